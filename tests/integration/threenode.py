"""The three-node cluster most integration tests run: n1, n2, n3 on two LANs, n1-n2 serial."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from functools import partial

from tests.integration.lab import HBCTL, Host, Lab, LabError, Node, View, control_address
from tests.integration.shell import run

AUTHKEYS = "auth 1\n1 sha1 lab-cluster-secret\n"
KEEPALIVE_MS = 100
DEADTIME_MS = 500
WARNTIME_MS = 300
STARTUP_SECONDS = 5.0
"""How long a node advertises a longer deadtime after it starts (engine STARTUP_EXTRA_SECONDS)."""


def ha_cf(
    host: Host,
    peers: list[Host],
    tty: str | None = None,
    deadtime_ms: int = DEADTIME_MS,
    warntime_ms: int = WARNTIME_MS,
) -> str:
    """ha.cf for `host`: ucast to every peer on LAN A, bcast on LAN B, an optional serial line."""
    lines = [
        f"# lab cluster, node {host.name}",
        "udpport 694",
        f"keepalive {KEEPALIVE_MS}ms",
        f"deadtime {deadtime_ms}ms",
        f"warntime {warntime_ms}ms",
        "initdead 2",
        "auto_failback off",
        *(f"ucast eth0 {peer.addr_a}" for peer in peers),
        "bcast eth1",
    ]
    if tty is not None:
        lines.append(f"serial {tty}")
    lines.append("node " + " ".join(sorted([host.name, *(peer.name for peer in peers)])))
    return "\n".join(lines) + "\n"


@dataclass
class Cluster:
    """A running three-node cluster and its lab."""

    lab: Lab
    hosts: dict[str, Host]
    nodes: dict[str, Node]
    ttys: dict[str, str]
    """The serial device path each of n1 and n2 opens (the serial link's name on that node)."""

    def expected_links(self, observer: str) -> list[tuple[str, str]]:
        """The (peer, link) pairs `observer` should see up when everything is plugged in."""
        pairs = []
        for peer in self.hosts:
            if peer == observer:
                continue
            pairs += [(peer, "eth0"), (peer, "eth1")]
            if {observer, peer} == {"n1", "n2"}:
                pairs.append((peer, self.ttys[observer]))
        return pairs

    def all_up(self, observer: str, view: View) -> bool:
        """Every node active and every expected link up, as `observer` sees it."""
        return all(view.node(name) == "active" for name in self.hosts) and all(
            view.link(peer, link) == "up" for peer, link in self.expected_links(observer)
        )

    def wait_all_up(self, timeout: float = 15.0) -> None:
        """Wait until every node sees every node active and every link up."""
        for name, node in self.nodes.items():
            node.wait_for(partial(self.all_up, name), timeout, "all active, all links up")

    def settle(self, timeout: float = 10.0) -> None:
        """Wait until every node has left its start-up period: every node sees every peer
        advertise its real deadtime (which it uses for its link and node timeouts)."""
        latest = max(engine_start(node) for node in self.nodes.values())
        # No node can advertise its real deadtime before its start-up period is over; asking
        # earlier would only take CPU from the daemons.
        remaining = latest + STARTUP_SECONDS - time.time()
        if remaining > 0:
            time.sleep(remaining)
        deadline = time.monotonic() + timeout
        for node in self.nodes.values():
            while longer := startup_deadtimes(self.lab, node):
                if not node.running or time.monotonic() > deadline:
                    raise LabError(
                        f"{node.name} still sees start-up deadtimes {longer} after {timeout} s\n"
                        f"{node.tail()}"
                    )
                time.sleep(KEEPALIVE_MS / 1000)


def startup_deadtimes(lab: Lab, node: Node) -> dict[str, int]:
    """The peers `node` sees advertising another deadtime than DEADTIME_MS (asked with hbctl)."""
    answer = run([*HBCTL, "nodes", "--json", "--control", control_address(lab, node)])
    return {
        record["name"]: record["deadtime_ms"]
        for record in json.loads(answer.stdout)
        if record["name"] != node.name and record["deadtime_ms"] != DEADTIME_MS
    }


def engine_start(node: Node) -> float:
    """When `node`'s engine started (it set its own status to `up`)."""
    node.wait_event("node_status_changed", timeout=15.0, node=node.name, new="up")
    return float(node.events("node_status_changed", node=node.name, new="up")[-1]["time"])


def start_cluster(lab: Lab) -> Cluster:
    """Three hosts, a serial cable n1-n2, a daemon on each; returns once all is up and settled."""
    hosts = {name: lab.add_host(name, index) for index, name in enumerate(("n1", "n2", "n3"), start=1)}
    tty1, tty2 = lab.serial_pair(hosts["n1"], hosts["n2"])
    ttys = {"n1": tty1, "n2": tty2}
    nodes = {}
    for name, host in hosts.items():
        peers = [peer for peer in hosts.values() if peer is not host]
        nodes[name] = lab.start_hbtwist(host, ha_cf(host, peers, ttys.get(name)), AUTHKEYS)
    cluster = Cluster(lab, hosts, nodes, ttys)
    cluster.wait_all_up()
    cluster.settle()
    return cluster
