"""Ping nodes between two real hbtwist daemons: the client host is the ping node of both.

The failover lab (`tests.integration.failover`): node1 and node2 at keepalive 100 ms, deadtime
500 ms, `ucast eth0 <peer>` (LAN A) and `bcast eth1` (LAN B), haresources giving the virtual IP
to node1, and `ping <client>` with `deadping 600ms`. cl_status's commands show the ping node as
Heartbeat does; cutting node1 from LAN A (it still hears node2 on LAN B) makes it reach fewer
ping nodes than node2, so it gives the virtual IP to node2, and never do both answer the client.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.integration.failover import (
    AUTHKEYS,
    NODE_NAMES,
    SLOW,
    VIP,
    Scenario,
    build,
    ha_cf,
    haresources,
    hbctl_at_once,
    wait_settled,
)
from tests.integration.lab import Lab, Node
from tests.integration.service import Prober, answered_twice, interleaved, turns

DEADPING_MS = 600
MOVE_TIMEOUT = 15.0
"""Bound on the move: deadping for the ping node's death, deadping for the count to settle,
then the standby; a few seconds on a loaded machine."""


@pytest.fixture
def scenario(lab: Lab) -> Scenario:
    """node1, node2 and the client, the echo service on both nodes."""
    return build(lab)


@pytest.fixture
def nodes(scenario: Scenario) -> Iterator[dict[str, Node]]:
    """Both daemons, started with the client as ping node, active and past their start-up."""
    ping = scenario.client.addr_a
    started = {}
    for host in scenario.nodes:
        config = ha_cf(host, scenario.peer(host), SLOW) + f"ping {ping}\ndeadping {DEADPING_MS}ms\n"
        started[host.name] = scenario.lab.start_hbtwist(host, config, AUTHKEYS, haresources())
    wait_settled(scenario.lab, started, SLOW, ask=False)
    for node in started.values():
        node.wait_for(lambda view: view.node(ping) == "ping", 10.0, f"ping node {ping} answering")
    yield started
    for node in started.values():
        node.stop()


def test_cl_status_commands_show_the_ping_node(scenario: Scenario, nodes: dict[str, Node]) -> None:
    """listnodes (reverse ha.cf order, ping node included), nodestatus, nodetype, listhblinks and
    hblinkstatus answer for the ping node as cl_status does."""
    ping = scenario.client.addr_a
    node1 = nodes["node1"]
    questions: list[tuple[str, ...]] = [
        ("listnodes",),
        ("listnodes", "-p"),
        ("nodestatus", ping),
        ("nodetype", ping),
        ("nodetype", "node2"),
        ("listhblinks", ping),
        ("hblinkstatus", ping, ping),
        ("listnodes", "-v"),
    ]
    answers = hbctl_at_once(scenario.lab, [(node1, argv) for argv in questions])
    assert answers[:7] == [
        f"{ping}\nnode2\nnode1\n",
        f"{ping}\n",
        "ping\n",
        "ping\n",
        "normal\n",
        f"\t{ping}\n",
        "up\n",
    ]
    assert f"\n{ping}\tping\t(nodetype: ping)\n\t{ping}\tup\n" in answers[7]
    assert node1.events("node_status_changed", node=ping, new="ping")
    assert node1.events("link_status_changed", node=ping, link=ping, new="up")


def test_the_node_cut_from_the_ping_node_gives_the_address_away(
    scenario: Scenario, nodes: dict[str, Node]
) -> None:
    """node1 loses LAN A (the ping node and the client) but still hears node2 on LAN B: its
    ping node dies, it reaches fewer ping nodes than node2 and gives the virtual IP to node2;
    the client never hears both, and plugging node1 back (equal counts) moves nothing."""
    lab, ping = scenario.lab, scenario.client.addr_a
    prober = Prober(lab, scenario.client, VIP, name="ping-probe")
    try:
        since = time.time()
        prober.wait_answering("node1", since, timeout=MOVE_TIMEOUT)
        cut_at = lab.cut(scenario.node1, "a")
        node1, node2 = nodes["node1"], nodes["node2"]
        died = node1.wait_event("node_status_changed", MOVE_TIMEOUT, since=cut_at, node=ping, new="dead")
        node1.wait_event("link_status_changed", MOVE_TIMEOUT, since=cut_at, link=ping, new="dead")
        assert float(died["time"]) - cut_at >= DEADPING_MS / 1000 * 0.8
        prober.wait_answering("node2", cut_at, timeout=MOVE_TIMEOUT)
        node1.wait_logged("reaches 0 ping node(s), node2 reaches 1: giving", timeout=MOVE_TIMEOUT)
        node2.wait_event("pings_reached", MOVE_TIMEOUT, node="node1", count=0)
        assert node2.view().node("node1") == "active"
        healed_at = lab.heal(scenario.node1, "a")
        node1.wait_event("node_status_changed", MOVE_TIMEOUT, since=healed_at, node=ping, new="ping")
        back = node2.wait_event("pings_reached", MOVE_TIMEOUT, since=healed_at, node="node1", count=1)
        settled = float(back["time"]) + 2 * DEADPING_MS / 1000  # the equal counts have settled
        prober.wait_for(
            lambda replies: bool(replies) and replies[-1].received >= settled,
            MOVE_TIMEOUT,
            "replies past the time node1's restored count has settled",
        )
        replies = prober.replies()
        assert turns([r for r in replies if r.received >= since]) == ["node1", "node2"]
        assert not answered_twice(replies) and not interleaved(replies)
        assert {name: node.view().node(name) for name, node in nodes.items()} == dict.fromkeys(
            NODE_NAMES, "active"
        )
    finally:
        prober.stop()
