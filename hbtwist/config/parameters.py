"""Heartbeat's `getparm` view of ha.cf: the value recorded for a directive, else its default.

Heartbeat records the value of most directives as written (the last one wins) and fills in
defaults after reading ha.cf; API clients read them back with `getparm` (`cl_status hbparameter`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hbtwist.config.model import HaCf

RECORDED = frozenset(
    {
        "cluster",
        "hopfudge",
        "keepalive",
        "deadtime",
        "deadping",
        "initdead",
        "warntime",
        "watchdog",
        "baud",
        "udpport",
        "logfacility",
        "logfile",
        "debugfile",
        "auto_failback",
        "rtprio",
        "hbgenmethod",
        "realtime",
        "debug",
        "msgfmt",
        "use_logd",
        "conn_logd_time",
        "log_badpack",
        "syslogmsgfmt",
        "coredumps",
        "coreroot",
        "crm_daemon_dir",
        "crmd_spawns_pengine",
        "pacemaker",
        "autojoin",
        "uuidfrom",
        "compression",
        "compression_threshold",
        "traditional_compression",
        "max_rexmit_delay",
        "record_config_changes",
        "record_pengine_inputs",
        "enable_config_writes",
        "memreserve",
        "quorum_server",
    }
)
"""Directives whose value Heartbeat records for `getparm` (not node, env, media, whole-line ones)."""

FIXED_DEFAULTS = {
    "cluster": "linux-ha",
    "hopfudge": "1",
    "keepalive": "1000ms",
    "deadtime": "30000ms",
    "baud": "19200",
    "auto_failback": "legacy",
    "hbgenmethod": "file",
    "realtime": "true",
    "debug": "0",
    "msgfmt": "classic",
    "conn_logd_time": "60",
    "log_badpack": "true",
    "syslogmsgfmt": "true",
    "coredumps": "true",
    "pacemaker": "false",
    "autojoin": "none",
    "uuidfrom": "file",
    "compression": "zlib",
    "compression_threshold": "2",
    "traditional_compression": "no",
    "max_rexmit_delay": "250",
    "record_config_changes": "on",
    "record_pengine_inputs": "on",
    "enable_config_writes": "on",
    "memreserve": "6500",
}
"""The defaults Heartbeat records when ha.cf does not set the directive (`heartbeat -D`)."""

_ALIASES = {"crm": "pacemaker"}


def _recorded(hacf: HaCf, name: str) -> str | None:
    value = None
    for directive, text in hacf.directives:
        if _ALIASES.get(directive, directive) == name:
            value = text
    return value


def _computed(hacf: HaCf, name: str) -> str | None:
    log = hacf.log
    syslog = log.facility not in (None, "none")
    if name == "warntime":
        return f"{hacf.warntime_ms}ms"
    if name == "initdead":
        return f"{hacf.initdead_ms}ms"
    if name == "deadping":
        return f"{hacf.deadping_ms}ms"
    if name == "udpport":
        return str(hacf.udpport)
    if name == "use_logd" and not (log.logfile or log.debugfile or syslog):
        return "yes"
    if name in ("logfile", "debugfile") and syslog:
        return "/dev/null"
    return FIXED_DEFAULTS.get(name)


def parameter_value(hacf: HaCf, name: str) -> str | None:
    """The `getparm` value of `name`: as last written in ha.cf, else Heartbeat's default."""
    if name not in RECORDED:
        return None
    recorded = _recorded(hacf, name)
    return recorded if recorded is not None else _computed(hacf, name)
