"""The ha.cf directives: how each one's value is read into the parse state, and which are refused.

Option-list directives (`DIRECTIVES[name].whole_line` false) are applied once per word of the
line, words being separated by blanks or commas; whole-line directives get the rest of the line.
A handler raises ValueError with a short message for a bad value.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar, cast

from hbtwist.config.durations import parse_duration_ms
from hbtwist.config.media import BAUD_RATES, MediaSettings, Medium
from hbtwist.config.model import ApiAuth, AutoFailback, AutoJoin, RespawnEntry, StonithDevice
from hbtwist.config.problems import FileLog, shown
from hbtwist.config.values import (
    WHITESPACE,
    ascii_lower,
    check_node_name,
    parse_bool,
    parse_int,
    parse_port,
    split_words,
)

MAX_NODES = 100
MAX_MEDIA = 64
MAX_CLIENT_NAME = 31

SYSLOG_FACILITIES = frozenset(
    {
        "auth",
        "authpriv",
        "cron",
        "daemon",
        "ftp",
        "kern",
        "lpr",
        "mail",
        "news",
        "security",
        "syslog",
        "user",
        "uucp",
        "none",
    }
    | {f"local{number}" for number in range(8)}
)
"""What `logfacility` accepts (glibc's facility names, and `none` for no syslog)."""

PACEMAKER_MODES = frozenset({"respawn", "minimal", "manual", "ccm-only", "valgrind"})
PACEMAKER_REFUSED = "Pacemaker (crm) is not supported by hbtwist; use haresources (crm off)"

REFUSED = {
    "watchdog": "the watchdog device is not supported yet",
    "failfast": "failfast clients (reboot when they die) are not supported yet",
    "use_apphbd": "registering with apphbd is not supported yet",
    "hbaping": "the hbaping medium does not exist in Heartbeat 3.0.6 either",
}
"""Directives hbtwist refuses, with the reason given to the operator."""

ALIASES = {"udp": "bcast"}
"""Legacy directive names Heartbeat still reads as another directive."""

MEDIA = "media"
"""The name `HaCfState.fail` records for a medium line (of any kind) that could not be read."""

ALL_HOSTS = "*"
"""`stonith_host *`: the device every node can use (a plain `stonith` line is the same)."""

_MAX_REXMIT = re.compile(r"([0-9]+)(?:ms)?", re.IGNORECASE)
_BLANKS = re.compile(f"[{re.escape(WHITESPACE)}]+")
T = TypeVar("T")


class HaCfState:
    """What has been read from ha.cf so far; directive handlers update it line by line."""

    def __init__(self, log: FileLog, default_udpport: int) -> None:
        self.log = log
        self.settings = MediaSettings(default_udpport)
        self.values: dict[str, object] = {}
        self.lines: dict[str, int] = {}
        self.nodes: list[str] = []
        self.node_lines: dict[str, int] = {}
        self.media: list[Medium] = []
        self.respawn: list[RespawnEntry] = []
        self.apiauth: dict[str, ApiAuth] = {}
        self.apiauth_lines: dict[str, int] = {}
        self.env: list[tuple[str, str]] = []
        self.stonith: list[tuple[str, StonithDevice]] = []
        """(host, device) of each `stonith` (host `*`) and `stonith_host` line, in file order."""
        self.directives: list[tuple[str, str]] = []
        self.failback = AutoFailback.LEGACY
        self.failed: set[str] = set()

    def fail(self, name: str) -> None:
        """Note that a line of directive `name` could not be read (its error is logged)."""
        self.failed.add(name)

    def broken(self, *names: str) -> bool:
        """Whether a line of any of `names` could not be read: checks across directives that
        depend on them are skipped, so that one mistake gives one error."""
        return not self.failed.isdisjoint(names)

    def value(self, name: str, default: T) -> T:
        """The value `name` was set to, else `default`."""
        return cast(T, self.values.get(name, default))

    def optional(self, name: str, kind: type[T]) -> T | None:
        """The value `name` was set to, or None when ha.cf does not set it."""
        value = self.values.get(name)
        return value if isinstance(value, kind) else None

    def set(self, name: str, value: object, line: int) -> None:
        """Record `name` = `value` from `line`, warning when it overrides an earlier line."""
        if name in self.lines:
            earlier = self.lines[name]
            message = f"{name} is set again (earlier on line {earlier}); the last value counts"
            self.log.warn(line, message)
        self.lines[name] = line
        self.values[name] = value


Handler = Callable[[HaCfState, str, int], None]


@dataclass(frozen=True)
class Directive:
    """How one directive is applied, and a warning to give when it has no effect in hbtwist."""

    handler: Handler
    whole_line: bool = False
    no_effect: str | None = None


def _scalar(name: str, parse: Callable[[str], object]) -> Handler:
    def handler(state: HaCfState, value: str, line: int) -> None:
        state.set(name, parse(value), line)

    return handler


def _choice(*choices: str, ignore_case: bool = False) -> Callable[[str], str]:
    def parse(value: str) -> str:
        word = value.lower() if ignore_case else value
        if word not in choices:
            raise ValueError(f"expected {' or '.join(choices)}, not {shown(value)}")
        return word

    return parse


def _duration(minimum_ms: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        milliseconds = parse_duration_ms(value)
        if milliseconds < minimum_ms:
            raise ValueError(f"{shown(value)} is too short (at least {minimum_ms} ms)")
        return milliseconds

    return parse


def _int(low: int, high: int | None = None) -> Callable[[str], int]:
    return lambda value: parse_int(value, low, high)


def _text(value: str) -> str:
    return value


def _facility(value: str) -> str:
    if value not in SYSLOG_FACILITIES:
        raise ValueError(f"unknown syslog facility {shown(value)}")
    return value


def _autojoin(value: str) -> AutoJoin:
    return AutoJoin(_choice("none", "other", "any", ignore_case=True)(value))


def _rtprio(value: str) -> int:
    low = os.sched_get_priority_min(os.SCHED_FIFO)
    high = os.sched_get_priority_max(os.SCHED_FIFO)
    return parse_int(value, low, high)


def _max_rexmit_delay(value: str) -> int:
    match = _MAX_REXMIT.fullmatch(value)
    if match is None:
        raise ValueError(f"expected milliseconds, not {shown(value)}")
    return parse_int(match[1], 1)


def _node(state: HaCfState, value: str, line: int) -> None:
    name = ascii_lower(value)
    check_node_name(name)
    if name in state.node_lines:
        first = state.node_lines[name]
        state.log.warn(line, f"node {shown(name)} is listed twice (first on line {first}); ignored")
        return
    if len(state.nodes) >= MAX_NODES:
        raise ValueError(f"too many nodes (at most {MAX_NODES})")
    state.nodes.append(name)
    state.node_lines[name] = line


def _udpport(state: HaCfState, value: str, line: int) -> None:
    port = parse_port(value)
    for kind, latched in sorted(state.settings.latched_ports.items()):
        if latched.value != port:
            state.log.warn(
                line,
                f"udpport {value} comes after the first {kind} line (line {latched.line}), so"
                f" {kind} media keep port {latched.value}; put udpport before the media lines",
            )
    state.settings.udpport = port
    state.set("udpport", port, line)


def _baud(state: HaCfState, value: str, line: int) -> None:
    if "baud" in state.lines:
        raise ValueError(f"baud may be given only once (first on line {state.lines['baud']})")
    baud = parse_int(value, 1)
    if baud not in BAUD_RATES:
        raise ValueError(f"unsupported speed {baud} (one of {', '.join(map(str, BAUD_RATES))})")
    latched = state.settings.latched_baud
    if latched is not None and latched.value != baud:
        state.log.warn(
            line,
            f"baud {value} comes after the first serial line (line {latched.line}), so serial"
            f" media keep {latched.value} baud; put baud before the serial lines",
        )
    state.settings.baud = baud
    state.set("baud", baud, line)


def _auto_failback(value: str) -> AutoFailback:
    if value.lower() == "legacy":
        return AutoFailback.LEGACY
    try:
        return AutoFailback.ON if parse_bool(value) else AutoFailback.OFF
    except ValueError:
        raise ValueError(f"expected on, off or legacy, not {shown(value)}") from None


def _set_auto_failback(state: HaCfState, value: str, line: int) -> None:
    state.failback = _auto_failback(value)
    state.set("auto_failback", state.failback, line)


def _nice_failback(state: HaCfState, value: str, line: int) -> None:
    parse_bool(value)
    nice_mode = state.failback is not AutoFailback.LEGACY
    state.failback = AutoFailback.OFF if nice_mode else AutoFailback.LEGACY
    state.log.warn(
        line,
        f"nice_failback is obsolete (use auto_failback on, off or legacy); as in Heartbeat,"
        f" 'nice_failback {value}' here means 'auto_failback {state.failback.value}'",
    )


def _pacemaker(state: HaCfState, value: str, line: int) -> None:
    if "pacemaker" in state.lines:
        first = state.lines["pacemaker"]
        raise ValueError(f"pacemaker/crm given more than once (first on line {first})")
    if value.lower() in PACEMAKER_MODES or parse_bool(value):
        raise ValueError(PACEMAKER_REFUSED)
    state.set("pacemaker", False, line)


def _before_pacemaker(name: str, parse: Callable[[str], object]) -> Handler:
    def handler(state: HaCfState, value: str, line: int) -> None:
        if "pacemaker" in state.lines:
            first = state.lines["pacemaker"]
            raise ValueError(f"must come before the pacemaker/crm directive (line {first})")
        state.set(name, parse(value), line)

    return handler


def _env(state: HaCfState, value: str, line: int) -> None:
    name, equals, text = value.partition("=")
    if not equals or not name:
        raise ValueError(f"expected NAME=value, not {shown(value)}")
    state.env.append((name, text))


def _respawn(state: HaCfState, value: str, line: int) -> None:
    words = split_words(value)
    if len(words) < 2:
        raise ValueError("expected a user and a command (respawn <user> <full path> [args])")
    user, path, *args = words
    if not path.startswith("/"):
        raise ValueError(f"command {shown(path)} is not a full path name")
    state.respawn.append(RespawnEntry(user, path, tuple(args), (state.log.path, line)))


def _id_list(text: str, what: str) -> tuple[str, ...]:
    ids = tuple(text.split(","))
    if not all(ids):
        raise ValueError(f"empty name in {what} list {shown(text)}")
    return ids


def _apiauth(state: HaCfState, value: str, line: int) -> None:
    client, *specs = split_words(value)
    if len(client) > MAX_CLIENT_NAME:
        raise ValueError(f"client name {shown(client)} is longer than {MAX_CLIENT_NAME} characters")
    lists: dict[str, tuple[str, ...]] = {}
    for spec in specs:
        kind, equals, ids = spec.partition("=")
        if not equals or kind not in ("uid", "gid"):
            raise ValueError(f"expected uid=LIST or gid=LIST, not {shown(spec)}")
        if kind in lists:
            raise ValueError(f"{kind} list given twice for client {shown(client)}")
        lists[kind] = _id_list(ids, kind)
    if not lists:
        raise ValueError(f"client {shown(client)} needs uid=LIST and/or gid=LIST")
    if client in state.apiauth_lines:
        first = state.apiauth_lines[client]
        raise ValueError(f"client {shown(client)} already has an apiauth line (line {first})")
    location = (state.log.path, line)
    state.apiauth[client] = ApiAuth(client, lists.get("uid", ()), lists.get("gid", ()), location)
    state.apiauth_lines[client] = line


def _stonith(state: HaCfState, value: str, line: int) -> None:
    """`stonith <type> <file>`: the rest of the line after the type is the file (as Heartbeat)."""
    words = _BLANKS.split(value, maxsplit=1)
    if len(words) < 2:
        raise ValueError("expected a device type and its configuration file (stonith <type> <file>)")
    device = StonithDevice(words[0], config_file=words[1], location=(state.log.path, line))
    state.stonith.append((ALL_HOSTS, device))


def _stonith_host(state: HaCfState, value: str, line: int) -> None:
    """`stonith_host <host|*> <type> <parameters...>`: the parameters are the rest of the line."""
    words = _BLANKS.split(value, maxsplit=2)
    if len(words) < 3:
        raise ValueError(
            "expected a host (or *), a device type and its parameters"
            " (stonith_host <host|*> <type> <parameters...>)"
        )
    host, kind, parameters = ascii_lower(words[0]), words[1], words[2]
    if host != ALL_HOSTS:
        check_node_name(host)
    device = StonithDevice(kind, parameters=parameters, location=(state.log.path, line))
    state.stonith.append((host, device))


_PACEMAKER_ONLY = "has no effect: it only configures Pacemaker, which hbtwist does not run"
_NO_API = (
    "has no effect: hbtwist has no Heartbeat API socket, so Heartbeat API clients "
    "(ipfail and the like) cannot run; use the control port (hbctl) instead"
)

DIRECTIVES: dict[str, Directive] = {
    "node": Directive(_node),
    "autojoin": Directive(_scalar("autojoin", _autojoin)),
    "keepalive": Directive(_scalar("keepalive", _duration(1))),
    "deadtime": Directive(_scalar("deadtime", _duration(0))),
    "warntime": Directive(_scalar("warntime", _duration(1))),
    "initdead": Directive(_scalar("initdead", _duration(0))),
    "deadping": Directive(_scalar("deadping", _duration(0))),
    "udpport": Directive(_udpport),
    "baud": Directive(_baud),
    "auto_failback": Directive(_set_auto_failback),
    "nice_failback": Directive(_nice_failback),
    "hopfudge": Directive(_scalar("hopfudge", _int(0, 255))),
    "logfacility": Directive(_scalar("logfacility", _facility)),
    "logfile": Directive(_scalar("logfile", _text)),
    "debugfile": Directive(_scalar("debugfile", _text)),
    "use_logd": Directive(_scalar("use_logd", parse_bool)),
    "conn_logd_time": Directive(_scalar("conn_logd_time", _duration(1))),
    "syslogmsgfmt": Directive(_scalar("syslogmsgfmt", parse_bool)),
    "debug": Directive(_scalar("debug", _int(0, 255))),
    "realtime": Directive(_scalar("realtime", parse_bool)),
    "rtprio": Directive(_scalar("rtprio", _rtprio)),
    "memreserve": Directive(_scalar("memreserve", _int(1))),
    "hbgenmethod": Directive(_scalar("hbgenmethod", _choice("file", "time"))),
    "uuidfrom": Directive(_scalar("uuidfrom", _choice("file", "nodename"))),
    "msgfmt": Directive(_scalar("msgfmt", _choice("classic", "netstring"))),
    "compression": Directive(_scalar("compression", _choice("zlib", "bz2"))),
    "compression_threshold": Directive(_scalar("compression_threshold", _int(1))),
    "traditional_compression": Directive(_scalar("traditional_compression", parse_bool)),
    "max_rexmit_delay": Directive(_scalar("max_rexmit_delay", _max_rexmit_delay)),
    "log_badpack": Directive(_scalar("log_badpack", parse_bool)),
    "coredumps": Directive(_scalar("coredumps", parse_bool)),
    "coreroot": Directive(_scalar("coreroot", _text)),
    "env": Directive(_env),
    "cluster": Directive(_scalar("cluster", _text)),
    "quorum_server": Directive(_scalar("quorum_server", _text)),
    "crm": Directive(_pacemaker),
    "pacemaker": Directive(_pacemaker),
    "crm_daemon_dir": Directive(_before_pacemaker("crm_daemon_dir", _text), no_effect=_PACEMAKER_ONLY),
    "crmd_spawns_pengine": Directive(
        _before_pacemaker("crmd_spawns_pengine", parse_bool), no_effect=_PACEMAKER_ONLY
    ),
    "record_config_changes": Directive(
        _scalar("record_config_changes", parse_bool), no_effect=_PACEMAKER_ONLY
    ),
    "record_pengine_inputs": Directive(
        _scalar("record_pengine_inputs", parse_bool), no_effect=_PACEMAKER_ONLY
    ),
    "enable_config_writes": Directive(
        _scalar("enable_config_writes", parse_bool), no_effect=_PACEMAKER_ONLY
    ),
    "respawn": Directive(_respawn, whole_line=True, no_effect=_NO_API),
    "apiauth": Directive(_apiauth, whole_line=True, no_effect=_NO_API),
    "stonith": Directive(_stonith, whole_line=True),
    "stonith_host": Directive(_stonith_host, whole_line=True),
}
"""Every directive hbtwist accepts (media aside: see `hbtwist.config.media.MEDIUM_PARSERS`)."""
