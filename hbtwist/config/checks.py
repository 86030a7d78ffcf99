"""Checks across ha.cf directives, with Heartbeat's defaults and rules (spec sections 6.3, 8.2).

They run once the whole file is read: timer defaults and limits, the node list, the media count,
logging, the policies hbtwist can only run as Heartbeat allows them without Pacemaker, and the
STONITH device this node uses (whose type the installed `stonith` command must know, as Heartbeat
checks it against its plugins while reading the line). A
check stands down when a directive it depends on had a line that could not be read: that line's
error is the one to fix, and the defaults the check would compare are not what the file meant.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass

from hbtwist.config.directives import ALL_HOSTS, MAX_NODES, MEDIA, HaCfState
from hbtwist.config.media import PingMedium
from hbtwist.config.model import AutoFailback, AutoJoin, StonithDevice
from hbtwist.config.problems import shown

DEFAULT_KEEPALIVE_MS = 1000
DEFAULT_DEADTIME_MS = 30000
MIN_INITDEAD_MS = 10000
"""Below this initial dead time Heartbeat warns that a slow network start may look like death."""
STONITH_PROGRAM = "/usr/sbin/stonith"
"""cluster-glue's `stonith` command (Debian package cluster-glue), which resets nodes."""
STONITH_LIST_TIMEOUT_S = 10.0
"""How long `stonith -L` (the list of installed device types) may take."""


@dataclass(frozen=True)
class Timings:
    """The effective timers, defaults applied, in milliseconds."""

    keepalive_ms: int
    deadtime_ms: int
    warntime_ms: int
    initdead_ms: int
    deadping_ms: int


def default_initdead_ms(deadtime_ms: int) -> int:
    """Heartbeat's initdead when ha.cf gives none: deadtime if over 10 s, 12 s under 6 s, else 2x."""
    if deadtime_ms > 10000:
        return deadtime_ms
    if deadtime_ms < 6000:
        return 12000
    return 2 * deadtime_ms


def resolve_timings(state: HaCfState) -> Timings:
    """Apply the timer defaults and report the combinations Heartbeat refuses or warns about."""
    log, lines, broken = state.log, state.lines, state.broken
    keepalive = state.value("keepalive", DEFAULT_KEEPALIVE_MS)
    deadtime = state.value("deadtime", DEFAULT_DEADTIME_MS)
    if deadtime <= 2 * keepalive and not broken("deadtime", "keepalive"):
        log.error(
            lines.get("deadtime", lines.get("keepalive")),
            f"Dead time [{deadtime} ms] is too small compared to keepalive [{keepalive} ms]",
        )
    initdead = state.value("initdead", default_initdead_ms(deadtime))
    if not broken("initdead", "deadtime"):
        _check_initdead(state, initdead, deadtime)
    deadping = state.value("deadping", deadtime)
    if "deadping" in lines and deadping <= 2 * keepalive and not broken("deadping", "keepalive"):
        log.error(
            lines["deadping"],
            f"Ping dead time [{deadping} ms] is too small compared to keepalive [{keepalive} ms]",
        )
    warntime = state.value("warntime", deadtime // 2)
    if "warntime" in lines and not broken("warntime", "deadtime", "keepalive"):
        if warntime >= deadtime:
            log.error(
                lines["warntime"],
                f"Warn time [{warntime} ms] must be smaller than deadtime [{deadtime} ms]",
            )
        elif warntime < keepalive:
            log.warn(
                lines["warntime"],
                f"Warn time [{warntime} ms] is smaller than keepalive [{keepalive} ms]:"
                " every heartbeat will be reported late",
            )
    return Timings(keepalive, deadtime, warntime, initdead, deadping)


def _check_initdead(state: HaCfState, initdead: int, deadtime: int) -> None:
    line = state.lines.get("initdead")
    if initdead < deadtime:
        state.log.error(
            line, f"Initial dead time [{initdead} ms] is smaller than deadtime [{deadtime} ms]"
        )
    elif initdead < MIN_INITDEAD_MS:
        state.log.warn(
            line,
            f"Initial dead time [{initdead} ms] may be too small!"
            " It should be >= deadtime and >= 10 seconds",
        )


def check_membership(state: HaCfState, local_node: str | None, autojoin: AutoJoin) -> None:
    """Nodes must be listed, the local one among them (unless `autojoin any`); no autojoin in R1.

    `local_node` None means it could not be found out (that problem is reported elsewhere).
    """
    if autojoin is not AutoJoin.ANY and not state.broken("node", "autojoin"):
        if not state.nodes:
            state.log.error(None, "no nodes defined (node directive)")
        elif local_node is not None and local_node not in state.nodes:
            state.log.error(
                None,
                f"local node {shown(local_node)} is not in the node list"
                " (node names are `uname -n`, or the first line of nodeinfo)",
            )
    if autojoin is not AutoJoin.NONE:
        state.log.error(
            state.lines.get("autojoin"),
            f"autojoin {autojoin.value} conflicts with haresources resource management:"
            " Heartbeat allows it only with Pacemaker (crm), which hbtwist does not support",
        )
    if not state.broken("node", MEDIA):
        check_ping_nodes(state)


def check_ping_nodes(state: HaCfState) -> None:
    """Each ping node is a node: named unlike the others, and within MAX_NODES all together."""
    seen: dict[str, int] = {}
    for medium in state.media:
        if not isinstance(medium, PingMedium):
            continue
        line, name = medium.location[1], shown(medium.node)
        if medium.node in state.node_lines:
            state.log.error(line, f"{medium.kind}: ping node {name} is also a cluster node")
        elif medium.node in seen:
            first = seen[medium.node]
            state.log.error(line, f"{medium.kind}: ping node {name} is already defined on line {first}")
        seen.setdefault(medium.node, line)
    if len(state.nodes) + len(seen) > MAX_NODES:
        state.log.error(None, f"too many nodes (at most {MAX_NODES}, ping nodes included)")


def check_media(state: HaCfState) -> None:
    """At least one heartbeat medium is needed."""
    if not state.media and not state.broken(MEDIA):
        state.log.error(
            None, "no heartbeat media defined (bcast, mcast, mcast6, ucast, ucast6 or serial)"
        )


def check_logging(state: HaCfState) -> None:
    """With no log file and no syslog facility, logd is the only place left to log to."""
    facility = state.optional("logfacility", str)
    logs_somewhere = (
        "logfile" in state.values or "debugfile" in state.values or facility not in (None, "none")
    )
    if state.broken("logfacility", "logfile", "debugfile", "use_logd"):
        return
    if not logs_somewhere and state.values.get("use_logd") is False:
        state.log.error(
            state.lines["use_logd"],
            "no logfile, debugfile or logfacility, and use_logd is off: nowhere to log",
        )


def resolve_auto_failback(state: HaCfState) -> AutoFailback:
    """The effective auto_failback; warns about the deprecated `legacy` mode, as Heartbeat does.

    Heartbeat applies the default `legacy` after reading ha.cf unless `auto_failback` itself was
    given, so a `nice_failback` line alone always ends up as `legacy`.
    """
    given = "auto_failback" in state.values
    failback = state.failback if given else AutoFailback.LEGACY
    if failback is AutoFailback.LEGACY and not state.broken("auto_failback"):
        state.log.warn(
            state.lines.get("auto_failback"),
            "auto_failback legacy is deprecated; set auto_failback on or off"
            if given
            else "auto_failback is not set and defaults to the deprecated legacy mode;"
            " set auto_failback on or off",
        )
    return failback


def resolve_stonith(
    state: HaCfState, local_node: str | None, program: str = STONITH_PROGRAM
) -> StonithDevice | None:
    """The STONITH device of this node: the last `stonith` line, or `stonith_host` line for
    `local_node` or `*` (Heartbeat keeps the last one read), checked against `program`.

    Lines for other nodes are Heartbeat's way to give each node its own device; a line for a
    host that is not a node is warned about. `local_node` None (unknown): only `*` lines apply.
    """
    if state.broken("stonith", "stonith_host"):
        return None
    mine = []
    for host, device in state.stonith:
        line = device.location[1] if device.location else None
        if host == ALL_HOSTS or host == local_node:
            mine.append((line, device))
        elif host not in state.nodes and not state.broken("node"):
            state.log.warn(line, f"stonith_host: {shown(host)} is not a node; the line is ignored")
    if not mine:
        return None
    line, device = mine[-1]
    directive = "stonith" if device.config_file is not None else "stonith_host"
    if len(mine) > 1:
        state.log.warn(
            line,
            f"{directive}: a STONITH device is given again for this node (earlier on line"
            f" {mine[-2][0]}); the last one counts",
        )
    if _check_stonith(state, line, device, directive, program):
        return device
    return None


def _check_stonith(
    state: HaCfState, line: int | None, device: StonithDevice, directive: str, program: str
) -> bool:
    """Whether `program` runs and knows the device's type, and its configuration file is there."""
    if not (os.path.isfile(program) and os.access(program, os.X_OK)):
        state.log.error(
            line,
            f"{directive}: the stonith command {program} is missing (Debian package cluster-glue)",
        )
        return False
    try:
        listed = subprocess.run(
            [program, "-L"], capture_output=True, text=True, timeout=STONITH_LIST_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        state.log.error(line, f"{directive}: {program} -L failed: {error}")
        return False
    if device.type not in listed.stdout.split():
        state.log.error(
            line,
            f"{directive}: unknown STONITH device type {shown(device.type)}"
            f" ({program} -L lists the installed types)",
        )
        return False
    if device.config_file is not None and not os.access(device.config_file, os.R_OK):
        state.log.error(
            line, f"stonith: cannot read the STONITH configuration file {shown(device.config_file)}"
        )
        return False
    return True
