"""CTS's ResourceAudit (`CTSaudits.py`) over a `CtsCluster`, checked on the hosts themselves.

What runs where is read from each host, not asked of the daemons: the group's address in
`ip -o addr` of the host's eth0, its marker's state file. A resource served on two nodes, on a
stopped node, or a group split over nodes is fatal at once, as in CTS. A group not yet where it
belongs (`CtsCluster.expected_holder`) is waited for (CTS polls too: Heartbeat does not say when
it is done); then the status checks run (`Marker NAME status` says `running` on the holder and
`stopped` on every other running node), and every running node must be stable and report the
expected holders (an hbtwist node in its log file's lines for each change, a Heartbeat node in
`cl_status rscstatus`).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.integration.cts import CtsCluster

POLL_INTERVAL = 0.1


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
        """Every running node stable and reporting the expected holder of every group."""
        cluster = self.cluster
        expected = {group.key: cluster.expected_holder(group) for group in cluster.groups}
        problems = []
        for name in sorted(cluster.up):
            problems += cluster.nodes[name].disagreements(expected)
        return problems
