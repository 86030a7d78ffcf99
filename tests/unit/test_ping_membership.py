"""Ping nodes in membership: status `ping` while replies arrive, `dead` after deadping, one link
named after them, never members, counted for comm-up, and the count each node advertises."""

from __future__ import annotations

from hbtwist.core.events import LinkStatusChanged, NodeStatusChanged, PingsReached
from hbtwist.core.status import PINGS_FIELD
from hbtwist.core.timing import Timing
from tests.ping_sim import PingHost, echo_reply
from tests.simnet import FAST, SimNet

PING_FAST = Timing(keepalive_ms=100, deadtime_ms=500, warntime_ms=250, initdead_ms=1000, deadping_ms=700)


def started(names: list[str], timing: Timing = PING_FAST) -> tuple[SimNet, PingHost]:
    """A started cluster of `names` with the ping node `gw` answering everybody."""
    net = SimNet(names, timing=timing, ping_nodes=("gw",))
    host = PingHost(net, "gw")
    net.start()
    return net, host


def test_a_ping_node_answering_has_status_ping_and_its_link_up() -> None:
    """Replies make the ping node `ping` and its single link, named after it, `up`; its type
    is ping and it is never an alive member."""
    net, _ = started(["a", "b"])
    net.run(1.0)
    a = net.nodes["a"]
    assert a.status_of("gw") == "ping"
    assert list(a.core.membership.peers["gw"].links) == ["gw"]
    assert a.link_of("gw", "gw") == "up"
    assert "gw" not in a.core.membership.peers["b"].links
    assert a.core.membership.alive_remote() == ["b"]
    assert "gw" not in a.core.resources.alive
    snapshot = a.core.snapshot().peer("gw")
    assert snapshot is not None and snapshot.kind == "ping" and snapshot.reachable
    assert any(
        isinstance(event, NodeStatusChanged) and (event.node, event.new) == ("gw", "ping")
        for _, event in a.events
    )


def test_a_silent_ping_node_is_dead_after_deadping_and_comes_back() -> None:
    """No replies for deadping: the ping node is `dead` and its link `dead` (Heartbeat's
    `node gw: is dead`, `Link gw:gw dead.`); replies again make it `ping`."""
    net, host = started(["a", "b"])
    net.run(7.0)
    host.unreachable.add("a")
    lost = net.clock.seconds()
    net.run(1.0)
    a = net.nodes["a"]
    assert a.status_of("gw") == "dead" and a.link_of("gw", "gw") == "dead"
    died = net.when("a", NodeStatusChanged, node="gw", new="dead")
    assert died is not None and 0.6 <= died - lost <= 0.9
    assert net.when("a", LinkStatusChanged, node="gw", link="gw", new="dead") is not None
    assert net.nodes["b"].status_of("gw") == "ping"
    host.unreachable.clear()
    net.run(0.3)
    assert a.status_of("gw") == "ping" and a.link_of("gw", "gw") == "up"


def test_comm_up_waits_for_a_ping_node_until_heard_or_dead() -> None:
    """As in Heartbeat, comm-up waits for every node, ping nodes included: at once when it
    answers, after initdead when it never does."""
    net = SimNet(["a"], timing=PING_FAST, ping_nodes=("gw",))
    net.start()
    net.run(0.5)
    assert not net.nodes["a"].core.comm_up
    net.run(1.0)
    assert net.nodes["a"].core.comm_up
    assert net.nodes["a"].status_of("gw") == "dead"
    answered, _ = started(["a"])
    answered.run(0.3)
    assert answered.nodes["a"].core.comm_up


def test_reqnodes_and_repnodes_leave_ping_nodes_out() -> None:
    """The reqnodes target is a normal node, and repnodes lists normal nodes only."""
    net, _ = started(["a", "b"])
    net.run(2.0)
    sent = [message for _, message in net.wire_log]
    assert {message.text("dest") for message in sent if message.text("t") == "reqnodes"} <= {"a", "b"}
    lists = {message.text("nodelist") for message in sent if message.text("t") == "repnodes"}
    assert lists == {"a b "}


def test_each_status_says_how_many_ping_nodes_are_reached() -> None:
    """Statuses carry `hbtwist_pings`; peers learn the count, and both ends report it."""
    net, host = started(["a", "b"])
    net.run(2.0)
    statuses = [m for source, m in net.wire_log if source == "a" and m.text("t") == "status"]
    assert statuses[-1].text(PINGS_FIELD) == "1"
    assert net.nodes["b"].core.membership.peers["a"].pings_reached == 1
    host.unreachable.add("a")
    net.run(1.5)
    assert net.nodes["b"].core.membership.peers["a"].pings_reached == 0
    assert net.when("b", PingsReached, node="a", count=0) is not None
    assert net.when("a", PingsReached, node="a", count=0) is not None


def test_without_ping_nodes_statuses_say_nothing() -> None:
    """A node without ping nodes sends no count (as before), so peers know none."""
    net = SimNet(["a", "b"], timing=FAST)
    net.start()
    net.run(1.0)
    assert all(PINGS_FIELD not in message for _, message in net.wire_log)
    assert net.nodes["b"].core.membership.peers["a"].pings_reached is None


def test_only_a_ping_reply_on_the_ping_nodes_own_link_counts() -> None:
    """An NS_st through another medium, without info=ping, or naming a normal node changes
    nothing."""
    net = SimNet(["a", "b"], timing=PING_FAST, ping_nodes=("gw",))
    net.start()
    core = net.nodes["a"].core
    core.receive(echo_reply("gw"), "eth0")
    core.receive(echo_reply("gw", info="other"), "gw")
    core.receive(echo_reply("b"), "gw")
    assert net.nodes["a"].status_of("gw") == "init"
    assert net.nodes["a"].status_of("b") == "init"
    core.receive(echo_reply("gw"), "gw")
    assert net.nodes["a"].status_of("gw") == "ping"
