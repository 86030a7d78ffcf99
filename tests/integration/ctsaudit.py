"""CTS's ResourceAudit (`CTSaudits.py`) over a `CtsCluster`, checked on the hosts themselves.

What runs where is read from each host, not asked of the daemons: the group's address in
`ip -o addr` of the host's eth0, its marker's state file. A resource served on two nodes, on a
stopped node, or a group split over nodes is fatal at once, as in CTS. A group not yet where it
belongs (`CtsCluster.expected_holder`) is waited for (CTS polls too: Heartbeat does not say when
it is done); then the status checks run (`Marker NAME status` says `running` on the holder and
`stopped` on every other running node), and every running node must be stable and name the same
holders (as the lines of its log file for each change tell).
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.integration.cts import CtsCluster

POLL_INTERVAL = 0.1
START_TEXT = "Configuration validated. Starting heartbeat"
HOLDING_LINE = re.compile(r"This node now holds (\S+) resources")
GROUP_LINE = re.compile(r"Resource group (\S+): \S+ -> \S+ \(holder: (\S+)\)")


class Audit:
    """One audit of a cluster: `run` polls until it passes, a fatal problem shows, or time runs out."""

    def __init__(self, cluster: CtsCluster) -> None:
        self.cluster = cluster

    def run(self, timeout: float) -> list[str]:
        """The problems found (empty when the audit passed)."""
        deadline = time.monotonic() + timeout
        while True:
            fatal, pending = self.placement()
            if fatal and (fatal == self.placement()[0] or time.monotonic() > deadline):
                return ["FATAL", *fatal]
            if fatal:
                continue
            problems = pending or self.status_checks() or self.agreement()
            if not problems or time.monotonic() > deadline:
                return problems
            time.sleep(POLL_INTERVAL)

    def placement(self) -> tuple[list[str], list[str]]:
        """(fatal problems, groups not yet where they belong), from the hosts. The hosts are read
        one after another, so a group handed over between two reads can look doubled or split:
        `run` calls a problem fatal only when the next reading shows it again."""
        cluster = self.cluster
        addresses = {name: node.addresses() for name, node in cluster.nodes.items()}
        markers = {name: node.markers_held() for name, node in cluster.nodes.items()}
        fatal: list[str] = []
        pending: list[str] = []
        for group in cluster.groups:
            on_ip = sorted(name for name, held in addresses.items() if group.address in held)
            on_marker = sorted(name for name, held in markers.items() if group.marker in held)
            for resource, where in ((group.ip_resource, on_ip), (f"Marker::{group.marker}", on_marker)):
                if len(where) > 1:
                    fatal.append(f"Resource {resource} served too many times: {where}")
                stopped = [name for name in where if name not in cluster.up]
                if stopped:
                    fatal.append(f"Resource {resource} runs on stopped node(s) {stopped}")
            if on_ip and on_marker and on_ip != on_marker:
                fatal.append(
                    f"Resource group {group.key} running on different nodes: {on_ip} vs {on_marker}"
                )
            expected = cluster.expected_holder(group)
            wanted = [expected] if expected is not None else []
            if on_ip != wanted or on_marker != wanted:
                pending.append(
                    f"group {group.key}: address on {on_ip}, marker on {on_marker}, expected on {wanted}"
                )
        return fatal, pending

    def status_checks(self) -> list[str]:
        """`Marker NAME status` on every running node: `running` only on the holder."""
        cluster = self.cluster
        problems = []
        for group in cluster.groups:
            holder = cluster.expected_holder(group)
            for name in sorted(cluster.up):
                said = cluster.nodes[name].marker_status(group.marker)
                wanted = "running" if name == holder else "stopped"
                if said != wanted:
                    problems.append(f"Marker {group.marker} status on {name}: {said!r}, not {wanted!r}")
        return problems

    def agreement(self) -> list[str]:
        """Every running node stable, naming the expected holder of every group (its log's
        last `This node now holds ...` and `Resource group ...` lines since it started)."""
        cluster = self.cluster
        problems = []
        for name in sorted(cluster.up):
            holding, holders = node_view(cluster.nodes[name].log.lines_from(0)[0])
            if holding == "transition":
                problems.append(f"{name}: not stable (resources in transition)")
            for group in cluster.groups:
                expected = cluster.expected_holder(group)
                if holders.get(group.key) != expected:
                    problems.append(
                        f"{name}: holder of {group.key} is {holders.get(group.key)}, not {expected}"
                    )
        return problems


def node_view(lines: list[str]) -> tuple[str | None, dict[str, str | None]]:
    """What a node's log says it holds (`none`, `local`, ... or `transition`) and each group's
    holder, as of its last line, since the daemon last started."""
    starts = [index for index, line in enumerate(lines) if START_TEXT in line]
    holding: str | None = None
    holders: dict[str, str | None] = {}
    for line in lines[starts[-1] if starts else 0 :]:
        if match := HOLDING_LINE.search(line):
            holding = match.group(1)
        elif match := GROUP_LINE.search(line):
            holder = match.group(2)
            holders[match.group(1)] = None if holder == "None" else holder
    return holding, holders
