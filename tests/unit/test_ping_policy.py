"""The ping-node policy: fewer ping nodes than an alive peer means no takeover and a hand-over
to that peer; a flapping count moves nothing; equal counts leave the rules as they were."""

from __future__ import annotations

from hbtwist.core.connectivity import PingCounts
from hbtwist.core.holders import GroupSpec
from hbtwist.core.timing import Timing
from tests.ping_sim import PingHost
from tests.simnet import SimNet

VIP = "IPaddr2::192.0.2.100/24/eth0"
TIMING = Timing(keepalive_ms=100, deadtime_ms=500, warntime_ms=250, initdead_ms=1000)
"""deadping is deadtime: 0.5 s, so a count settles 0.5 s after it changed."""


def test_counts_settle_after_the_hold_off() -> None:
    """A count decides nothing until it has held for the hold-off; a change starts it again."""
    counts = PingCounts(hold_off_s=5.0)
    counts.observe("a", 1, now=0.0)
    counts.observe("b", 0, now=0.0)
    assert counts.settled("a", 4.9) is None and counts.outranked({"a", "b"}, 4.9) == frozenset()
    assert counts.outranked({"a", "b"}, 5.0) == {"b"}
    counts.observe("b", 1, now=6.0)
    counts.observe("b", 0, now=7.0)
    assert counts.settles_in("b", 8.0) == 4.0
    assert counts.outranked({"a", "b"}, 11.9) == frozenset()
    assert counts.outranked({"a", "b"}, 12.0) == {"b"}
    counts.observe("a", 1, now=13.0)  # unchanged: still settled since 0
    assert counts.settled("a", 13.0) == 1


def test_equal_unknown_and_absent_counts_outrank_nobody() -> None:
    """Equal counts, a node that says nothing, or one not among the nodes asked about never
    outrank anyone."""
    counts = PingCounts(hold_off_s=0.0)
    counts.observe("a", 2, now=0.0)
    counts.observe("b", 2, now=0.0)
    counts.observe("c", 3, now=0.0)
    assert counts.outranked({"a", "b", "heartbeat"}, 1.0) == frozenset()
    assert counts.outranked({"a", "b", "c"}, 1.0) == {"a", "b"}
    assert counts.best({"a", "b", "c"}, 1.0, ["a", "b", "c"]) == "c"
    counts.observe("c", None, now=2.0)
    assert counts.outranked({"a", "b", "c"}, 2.0) == frozenset()


def cluster(names: list[str], groups: list[GroupSpec]) -> tuple[SimNet, PingHost]:
    """A started cluster with ping node `gw` reachable from all, past its start-up window."""
    net = SimNet(names, timing=TIMING, groups=groups, ping_nodes=("gw",))
    host = PingHost(net, "gw")
    net.start()
    net.run(6.0)
    return net, host


def test_the_holder_losing_its_ping_node_hands_its_group_over() -> None:
    """a holds the group and loses its ping node while b still reaches it: once a's count has
    settled, a gives the group to b by a standby naming b; never two holders, and a's ping
    coming back does not move the group again."""
    net, host = cluster(["a", "b"], [GroupSpec(VIP, "a")])
    assert net.holders(VIP) == {"a"}
    host.unreachable.add("a")
    net.run(0.9)  # dead after deadping, count settled after another deadping: not yet
    assert net.holders(VIP) == {"a"}
    net.run(1.5)
    assert net.holders(VIP) == {"b"} and net.peak == 1
    a, b = net.nodes["a"].groups, net.nodes["b"].groups
    assert a is not None and b is not None
    assert a.said(f"a reaches 0 ping node(s), b reaches 1: giving {VIP} to b.")
    assert a.said("standby: b can take our local resources")
    assert b.said("Standby resource acquisition done [local].")
    host.unreachable.clear()
    net.run(3.0)
    assert net.holders(VIP) == {"b"} and net.peak == 1


def test_a_flapping_ping_node_moves_nothing() -> None:
    """a's ping node is lost and found again, never gone long enough for a's count to settle:
    the group stays on a."""
    net, host = cluster(["a", "b"], [GroupSpec(VIP, "a")])
    for _ in range(6):
        host.unreachable.add("a")
        net.run(0.8)  # dead after deadping (0.5 s): count 0 for ~0.3 s
        host.unreachable.clear()
        net.run(0.3)
    net.run(2.0)
    assert net.holders(VIP) == {"a"}
    groups = net.nodes["a"].groups
    assert groups is not None and not groups.said("ping node(s)")


def test_equal_counts_leave_the_groups_where_they_are() -> None:
    """Both nodes lose the ping node: equal counts, nothing moves."""
    net, host = cluster(["a", "b"], [GroupSpec(VIP, "a")])
    host.unreachable.update({"a", "b"})
    net.run(3.0)
    assert net.holders(VIP) == {"a"}


def test_an_outranked_node_does_not_take_over() -> None:
    """a dies; b would take its group by the rule, but b reaches fewer ping nodes than c, so
    c takes it."""
    net, host = cluster(["a", "b", "c"], [GroupSpec(VIP, "a")])
    host.unreachable.add("b")
    net.run(1.5)
    assert net.holders(VIP) == {"a"}
    net.crash("a")
    net.run(1.5)
    assert net.holders(VIP) == {"c"} and net.peak == 1


def test_nodes_that_say_nothing_keep_todays_rules() -> None:
    """A peer whose count is unknown (a Heartbeat node) is never outranked and outranks
    nobody: its death gives the group to the usual taker."""
    net, _ = cluster(["a", "b"], [GroupSpec(VIP, "a")])
    manager = net.nodes["b"].core.resources
    manager.connectivity.observe("a", None)
    manager.connectivity.observe("b", None)
    assert manager.connectivity.outranked() == frozenset()
    net.crash("a")
    net.run(1.5)
    assert net.holders(VIP) == {"b"}
