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
class ClusterConfig:
    """A whole validated configuration directory, as the daemon and `hbctl check` use it."""

    config_dir: str
    local_node: str
    hacf: HaCf
    keyring: Keyring
    resources: tuple[ResourceGroup, ...]
    warnings: tuple[Problem, ...]
