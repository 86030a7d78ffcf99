"""The resource manager in a simulated cluster: takeover, failback, standby, shutdown, one holder."""

from __future__ import annotations

import random

import pytest

from hbtwist.core.events import PartitionHealed
from hbtwist.core.holders import GroupSpec
from tests.simnet import FAST, SimNet

STARTUP_WINDOW_S = 6.0
VIP = "IPaddr2::192.0.2.100/24/eth0"
WEB = "apache"


def cluster(
    names: list[str], groups: list[GroupSpec], auto_failback: str = "on", **kw: object
) -> SimNet:
    """A started cluster of `names` holding `groups`, run past the start-up window in which
    nodes advertise a longer deadtime (as Heartbeat does), so deaths are detected at deadtime."""
    net = SimNet(names, groups=groups, auto_failback=auto_failback, **kw)  # type: ignore[arg-type]
    net.start()
    net.run(STARTUP_WINDOW_S)
    return net


def settle(net: SimNet, seconds: float = 2.0) -> None:
    """Run the simulation on and check that no group ever ran on two nodes at once."""
    net.run(seconds)
    assert net.peak <= 1


def test_preferred_node_takes_its_group_at_start() -> None:
    """Two nodes starting together: the preferred node runs the group, both log completion."""
    net = cluster(["a", "b"], [GroupSpec(VIP, "a")])
    assert net.holders(VIP) == {"a"}
    for name in "ab":
        groups = net.nodes[name].groups
        assert groups is not None and groups.said("Initial resource acquisition complete")
    assert net.nodes["a"].core.resources.holding() == "local"
    assert net.nodes["b"].core.resources.holding() == "none"


def test_start_up_does_not_wait_heartbeats_ten_seconds() -> None:
    """A node starting beside a stable peer acquires as soon as the peer's report arrives."""
    net = cluster(["a", "b"], [GroupSpec(VIP, "a")])
    net.crash("a")
    settle(net)
    net.restart("a")
    net.run(1.5)
    assert net.holders(VIP) == {"a"}


def test_survivor_takes_over_a_dead_holder() -> None:
    """The holder dies: the other node takes the group after deadtime and logs Heartbeat's lines."""
    net = cluster(["a", "b"], [GroupSpec(VIP, "a")])
    net.crash("a")
    settle(net, 1.0)
    assert net.holders(VIP) == {"b"}
    groups = net.nodes["b"].groups
    assert groups is not None
    assert groups.said("Resources being acquired from a.")
    assert groups.said("mach_down takeover complete for node a.")


def test_auto_failback_on_returns_the_group() -> None:
    """`auto_failback on`: the preferred node comes back and gets its group, never two holders."""
    net = cluster(["a", "b"], [GroupSpec(VIP, "a")])
    net.crash("a")
    settle(net)
    net.restart("a")
    settle(net, 3.0)
    assert net.holders(VIP) == {"a"}
    groups = net.nodes["b"].groups
    assert groups is not None and groups.said("Auto failback triggered.")


def test_auto_failback_off_leaves_the_group() -> None:
    """`auto_failback off`: the group stays where it went."""
    net = cluster(["a", "b"], [GroupSpec(VIP, "a")], auto_failback="off")
    net.crash("a")
    settle(net)
    net.restart("a")
    settle(net, 3.0)
    assert net.holders(VIP) == {"b"}


def test_legacy_failback_asks_for_the_group_back() -> None:
    """`auto_failback legacy`: the returning node's ip-request makes the holder release it."""
    net = cluster(["a", "b"], [GroupSpec(VIP, "a")], auto_failback="legacy")
    assert net.holders(VIP) == {"a"}
    net.crash("a")
    settle(net)
    assert net.holders(VIP) == {"b"}
    net.restart("a")
    settle(net, 3.0)
    assert net.holders(VIP) == {"a"}


def test_standby_moves_everything_and_both_sides_log_it() -> None:
    """`hb_standby all`: the three phases run and the other node holds the group."""
    net = cluster(["a", "b"], [GroupSpec(VIP, "a"), GroupSpec(WEB, "b")])
    assert net.nodes["a"].core.resources.standby.request("all") is None
    settle(net, 1.0)
    assert net.holders(VIP) == {"b"} and net.holders(WEB) == {"b"}
    a, b = net.nodes["a"].groups, net.nodes["b"].groups
    assert a is not None and b is not None
    assert b.said("a wants to go standby [all]")
    assert a.said("standby: b can take our all resources")
    assert b.said("Standby resource acquisition done [all].")
    assert a.said("Other node completed standby takeover of all resources.")
    assert net.nodes["a"].core.resources.holding() == "none"
    assert net.nodes["b"].core.resources.holding() == "all"


def test_takeover_request_pulls_the_groups() -> None:
    """`hb_takeover all` on b: a goes standby for b, and b holds everything."""
    net = cluster(["a", "b"], [GroupSpec(VIP, "a")])
    assert net.nodes["b"].core.resources.standby.request_takeover("all") is None
    settle(net, 1.0)
    assert net.holders(VIP) == {"b"}


def test_standby_alone_is_cancelled_at_once() -> None:
    """With no other node alive a standby ends with Heartbeat's no-reply line, holding on."""
    net = cluster(["a", "b"], [GroupSpec(VIP, "a")])
    net.crash("b")
    settle(net)
    assert net.nodes["a"].core.resources.standby.request("all") is None
    groups = net.nodes["a"].groups
    assert groups is not None and groups.said("No reply to standby request.")
    assert net.holders(VIP) == {"a"}


def test_standby_is_refused_with_legacy_failback() -> None:
    """Heartbeat implements standby only with nice failback; so does hbtwist, saying why."""
    net = cluster(["a", "b"], [GroupSpec(VIP, "a")], auto_failback="legacy")
    refusal = net.nodes["a"].core.resources.standby.request("all")
    assert refusal is not None and "nice_failback" in refusal


def test_graceful_shutdown_releases_before_shutdone() -> None:
    """SIGTERM: the holder releases its group, then the peer takes it on `shutdone`, fast."""
    net = cluster(["a", "b"], [GroupSpec(VIP, "a")])
    net.stop_gracefully("a")
    settle(net, 0.4)
    assert net.holders(VIP) == {"b"}
    groups = net.nodes["a"].groups
    assert groups is not None and groups.said("All HA resources relinquished.")


def test_failed_start_hands_the_group_over() -> None:
    """A start that fails on the preferred node is given up and started on the other node."""
    net = SimNet(["a", "b"], groups=[GroupSpec(VIP, "a")])
    groups = net.nodes["a"].groups
    assert groups is not None
    groups.failing_starts.add(VIP)
    net.start()
    settle(net, 3.0)
    assert net.holders(VIP) == {"b"}
    assert groups.said(f"Giving up resources due to failure of {VIP}")


def test_monitor_give_up_moves_the_group() -> None:
    """Monitoring gives up on a group: it is stopped here and runs on the other node."""
    net = cluster(["a", "b"], [GroupSpec(VIP, "a")])
    net.nodes["a"].core.resources.group_failed(VIP, "3 restarts in 600 s")
    settle(net, 1.0)
    assert net.holders(VIP) == {"b"}


def test_unconfirmed_stop_is_never_started_elsewhere() -> None:
    """A standby whose stop cannot be confirmed leaves the group where it was, loudly."""
    net = cluster(["a", "b"], [GroupSpec(VIP, "a")])
    groups = net.nodes["a"].groups
    assert groups is not None
    groups.failing_stops.add(VIP)
    net.nodes["a"].core.resources.standby.request("all")
    settle(net, 2.0)
    assert net.holders(VIP) == {"a"}
    assert groups.said("Resource STOP failure for group")
    assert net.nodes["b"].core.resources.groups[VIP].state == "stopped"


def test_three_nodes_exactly_one_taker() -> None:
    """Three nodes: the holder dies and only the next node in ha.cf order takes its group."""
    net = cluster(["a", "b", "c"], [GroupSpec(VIP, "a"), GroupSpec(WEB, "c")])
    assert net.holders(VIP) == {"a"} and net.holders(WEB) == {"c"}
    net.crash("a")
    settle(net, 1.0)
    assert net.holders(VIP) == {"b"}
    net.crash("b")
    settle(net, 1.0)
    assert net.holders(VIP) == {"c"} and net.holders(WEB) == {"c"}


@pytest.mark.parametrize("seed", range(8))
def test_random_crashes_and_restarts_keep_one_holder(seed: int) -> None:
    """Four nodes, random crashes and restarts: never two holders, and after settling every
    group runs on exactly one alive node."""
    rng = random.Random(seed)
    names = ["a", "b", "c", "d"]
    groups = [GroupSpec(f"g{index}", names[index % 4]) for index in range(6)]
    net = cluster(names, groups, auto_failback=rng.choice(["on", "off", "legacy"]), seed=seed)
    for _ in range(6):
        name = rng.choice(names)
        if net.nodes[name].running:
            net.crash(name)
        else:
            net.restart(name)
        settle(net, rng.uniform(0.05, 1.5))
    for name in names:
        if not net.nodes[name].running:
            net.restart(name)
    settle(net, 4.0)
    for spec in groups:
        assert len(net.holders(spec.key)) == 1, spec.key


def test_simultaneous_start_takes_no_fixed_wait() -> None:
    """Three nodes starting at once all finish acquisition within a second of comm-up."""
    net = SimNet(["a", "b", "c"], groups=[GroupSpec(VIP, "a"), GroupSpec(WEB, "b")])
    net.start()
    settle(net, FAST.initdead_ms / 1000 + 1.0)
    assert net.holders(VIP) == {"a"} and net.holders(WEB) == {"b"}
    for name in "abc":
        assert net.nodes[name].core.resources.stable


def test_healed_partition_leaves_one_holder() -> None:
    """Both sides took the group during a partition; once healed, exactly one keeps it."""
    net = cluster(["a", "b"], [GroupSpec(VIP, "a")])
    net.cut("a", "eth0")
    net.cut("a", "eth1")
    net.run(1.5)
    assert net.holders(VIP) == {"a", "b"}
    net.heal("a", "eth0")
    net.heal("a", "eth1")
    net.run(3.0)
    assert net.holders(VIP) == {"a"}
    groups = net.nodes["b"].groups
    assert groups is not None and groups.said("also runs on a: releasing it here (a keeps it)")


def test_a_partition_seen_by_one_side_only_leaves_one_holder() -> None:
    """The holder goes silent for longer than deadtime while it still hears its peer (a stall
    of its own, or one lost direction): only the peer sees a partition and takes the group;
    when the holder is heard again, it keeps the group and the peer lets go."""
    net = cluster(["a", "b"], [GroupSpec(VIP, "a")])
    net.lost_at_source = lambda source, message: source == "a"
    net.run(1.5)
    assert net.holders(VIP) == {"a", "b"}
    assert net.when("a", PartitionHealed, node="b") is None
    net.lost_at_source = lambda source, message: False
    net.run(3.0)
    assert net.holders(VIP) == {"a"}
    assert net.when("b", PartitionHealed, node="a") is not None


def test_each_side_of_a_healed_partition_says_its_acquisition_is_complete() -> None:
    """After a partition of three nodes heals, every node logs the other side's return and,
    once the duplicates are released, `Initial resource acquisition complete` (what the
    Cluster Test Suite's Split_brain waits for), without restarting; each group has one holder."""
    net = cluster(["a", "b", "c"], [GroupSpec(VIP, "a"), GroupSpec(WEB, "c")])
    net.cut("a", "eth0")
    net.cut("a", "eth1")
    net.run(1.5)
    assert net.holders(VIP) == {"a", "b"} and net.holders(WEB) == {"a", "c"}
    net.heal("a", "eth0")
    net.heal("a", "eth1")
    net.run(3.0)
    assert net.holders(VIP) == {"a"} and net.holders(WEB) == {"c"}
    for name, others in (("a", "bc"), ("b", "a"), ("c", "a")):
        for other in others:
            assert net.when(name, PartitionHealed, node=other) is not None
            groups = net.nodes[name].groups
            wanted = f"Initial resource acquisition complete (after the partition from {other})."
            assert groups is not None and groups.said(wanted), (name, other)


def test_holder_restarting_within_deadtime_leaves_no_orphan() -> None:
    """A holder restarted before it could be declared dead comes back in `init`: what it held
    goes to the taker at once instead of being left unserved."""
    net = cluster(["a", "b"], [GroupSpec(VIP, "a")], auto_failback="off")
    net.crash("a")
    settle(net)
    net.restart("a")
    settle(net, 3.0)
    assert net.holders(VIP) == {"b"}
    net.crash("b")
    net.restart("b")
    settle(net, 3.0)
    assert net.holders(VIP) == {"a"}
