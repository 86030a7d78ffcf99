"""The frozen objects a loaded configuration is made of: `HaCf`, resource groups, `ClusterConfig`."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from hbtwist.config.media import Location, Medium
from hbtwist.config.parameters import parameter_value
from hbtwist.config.problems import Problem
from hbtwist.wire.auth import Keyring


class AutoJoin(enum.StrEnum):
    """`autojoin`: whether nodes missing from the `node` list may join."""

    NONE = "none"
    OTHER = "other"
    ANY = "any"


class AutoFailback(enum.StrEnum):
    """`auto_failback`: what happens to resource groups when their preferred node comes back."""

    ON = "on"
    OFF = "off"
    LEGACY = "legacy"


@dataclass(frozen=True)
class RespawnEntry:
    """`respawn <user> <command>`: a client started at comm-up as `user`, restarted if it dies."""

    user: str
    path: str
    args: tuple[str, ...]
    location: Location

    @property
    def command(self) -> str:
        """The command line as configured."""
        return " ".join((self.path, *self.args))


@dataclass(frozen=True)
class ApiAuth:
    """`apiauth <client> uid=... gid=...`: who may sign on to the API as `client`."""

    client: str
    uids: tuple[str, ...]
    gids: tuple[str, ...]
    location: Location | None = None


@dataclass(frozen=True)
class StonithDevice:
    """The STONITH device this node resets dead nodes with, run through cluster-glue's `stonith`
    command: `stonith <type> <file>` or `stonith_host <host|*> <type> <parameters...>`."""

    type: str
    """The device type, as `stonith -L` lists it (`null`, `external/ipmi`, ...)."""
    parameters: str | None = None
    """`stonith_host`: the device's parameters as written, given to `stonith -p`."""
    config_file: str | None = None
    """`stonith`: the file holding the device's parameters, given to `stonith -F`."""
    location: Location | None = None


DEFAULT_APIAUTH = (
    ApiAuth("ipfail", ("hacluster",), ()),
    ApiAuth("ccm", ("hacluster",), ()),
    ApiAuth("ping", (), ("haclient",)),
    ApiAuth("lha-snmpagent", ("root",), ()),
    ApiAuth("anon", ("root",), ("haclient",)),
)
"""Heartbeat's built-in API authorizations, each used unless ha.cf names the same client."""


@dataclass(frozen=True)
class LogSettings:
    """Where and how the daemon logs (`logfacility`, `logfile`, `debugfile`, `use_logd`, ...)."""

    facility: str | None = None
    logfile: str | None = None
    debugfile: str | None = None
    use_logd: bool | None = None
    conn_logd_time_ms: int = 60000
    syslogmsgfmt: bool = True
    debug: int = 0


@dataclass(frozen=True)
class HaCf:
    """Everything ha.cf says, validated; times in integer milliseconds, node names lower-case."""

    nodes: tuple[str, ...]
    media: tuple[Medium, ...]
    keepalive_ms: int
    deadtime_ms: int
    warntime_ms: int
    initdead_ms: int
    deadping_ms: int
    udpport: int
    baud: int
    autojoin: AutoJoin
    auto_failback: AutoFailback
    hopfudge: int
    msgfmt: str
    max_rexmit_delay_ms: int
    hbgenmethod: str
    uuidfrom: str
    log: LogSettings
    respawn: tuple[RespawnEntry, ...]
    apiauth: tuple[ApiAuth, ...]
    env: tuple[tuple[str, str], ...]
    cluster: str
    quorum_server: str | None
    realtime: bool
    rtprio: int | None
    memreserve_kb: int
    coredumps: bool
    coreroot: str | None
    compression: str
    compression_threshold_kb: int
    traditional_compression: bool
    log_badpack: bool
    directives: tuple[tuple[str, str], ...]
    failed: frozenset[str] = frozenset()
    """Directives with a line that could not be read (`media` for any medium): only ever
    non-empty in a configuration that is refused."""
    stonith: StonithDevice | None = None
    """The STONITH device of the last `stonith`, or `stonith_host` for this node or `*`, line
    (as in Heartbeat, the last one counts); None when ha.cf gives this node none."""

    def parameter(self, name: str) -> str | None:
        """What Heartbeat's `getparm` (`cl_status hbparameter -p NAME`) reports for `name`."""
        return parameter_value(self, name)

    def api_authorization(self) -> Mapping[str, ApiAuth]:
        """Client name -> authorization: the `apiauth` entries over Heartbeat's built-ins."""
        table = {entry.client: entry for entry in DEFAULT_APIAUTH}
        table.update((entry.client, entry) for entry in self.apiauth)
        return table

    def environment(self) -> dict[str, str]:
        """The variables `env` adds for respawned clients: `env NAME=v` gives `HA_NAME=v`."""
        return {f"HA_{name}": value for name, value in self.env}


@dataclass(frozen=True)
class Resource:
    """One haresources resource: `Script` or `Script::arg1::arg2` (`text` is as written)."""

    script: str
    args: tuple[str, ...]
    text: str

    @property
    def key(self) -> str:
        """The name the resource scripts know the resource by: its text as written."""
        return self.text


@dataclass(frozen=True)
class ResourceGroup:
    """One haresources line: a preferred node and the resources started left to right."""

    preferred_node: str
    resources: tuple[Resource, ...]
    location: Location

    @property
    def key(self) -> str:
        """The group key: the text of the first resource, unique in haresources."""
        return self.resources[0].text


@dataclass(frozen=True)
class ResourcePolicy:
    """How hbtwist runs one resource: timeouts, monitoring and restarts (hbtwist.cf).

    Times are integer milliseconds; a `monitor_interval_ms` of 0 turns monitoring off.
    """

    start_timeout_ms: int = 60_000
    stop_timeout_ms: int = 60_000
    monitor_timeout_ms: int = 20_000
    monitor_interval_ms: int = 10_000
    restart_limit: int = 3
    """Restarts in place within `restart_window_ms` before the group is handed to another node."""
    restart_window_ms: int = 600_000
    stop_retries: int = 10
    """Heartbeat's HA_STOPRETRYMAX: a failed stop is tried again this many times."""
    stop_retry_interval_ms: int = 1_000
    native_ip: bool = True
    """Serve IPaddr / IPaddr2 / bare IP resources in process (netlink); False forces the agent."""
    arp_count: int = 5
    """Gratuitous ARPs (or unsolicited neighbour advertisements) sent after adding an address."""
    arp_interval_ms: int = 200


@dataclass(frozen=True)
class ResourceSettings:
    """The hbtwist-only file `hbtwist.cf`: a default policy and per-resource overrides."""

    default: ResourcePolicy = ResourcePolicy()
    overrides: tuple[tuple[str, ResourcePolicy], ...] = ()
    """(resource text as written in haresources, its policy), in file order."""
    source: str | None = None
    """The file these settings were read from (None: the file is absent, defaults apply)."""

    def policy(self, resource_text: str) -> ResourcePolicy:
        """The policy of the resource written `resource_text` in haresources."""
        for text, policy in self.overrides:
            if text == resource_text:
                return policy
        return self.default


@dataclass(frozen=True)
class ClusterConfig:
    """A whole validated configuration directory, as the daemon and `hbctl check` use it."""

    config_dir: str
    local_node: str
    hacf: HaCf
    keyring: Keyring
    resources: tuple[ResourceGroup, ...]
    warnings: tuple[Problem, ...]
    settings: ResourceSettings = ResourceSettings()
    """hbtwist-only settings (`hbtwist.cf`); Heartbeat nodes never read them."""
