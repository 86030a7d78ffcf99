"""The heartbeat core on a simulated network: membership, links, restarts, stalls."""

from __future__ import annotations

from hbtwist.core.events import (
    CommUp,
    LinkStatusChanged,
    LocalStall,
    NodeRestarted,
    NodeStatusChanged,
    PartitionHealed,
    ShutdownNotice,
)
from hbtwist.core.timing import Timing
from tests.simnet import SimNet


def test_three_nodes_become_active_with_all_links_up() -> None:
    """Three started nodes all reach `active` and see every peer's links up."""
    net = SimNet(["n1", "n2", "n3"])
    net.start()
    net.run(2.0)
    for name, node in net.nodes.items():
        assert node.core.comm_up
        for other in net.names:
            assert node.status_of(other) == "active"
            if other != name:
                assert node.link_of(other, "eth0") == "up"
                assert node.link_of(other, "eth1") == "up"


def test_local_status_goes_init_up_active() -> None:
    """A node announces `init`, then `up`, then `active` after comm-up, in that order."""
    net = SimNet(["n1", "n2"])
    net.start()
    net.run(1.0)
    sent = [m.text("st") for src, m in net.wire_log if src == "n1" and m.text("t") == "status"]
    first_of = {status: sent.index(status) for status in ("init", "up", "active")}
    assert first_of["init"] < first_of["up"] < first_of["active"]


def test_startup_deadtime_is_raised_then_restored() -> None:
    """Status advertises deadtime + 2000 ms for five seconds, then the plain deadtime."""
    net = SimNet(["n1", "n2"])
    net.start()
    net.run(6.0)
    advertised = [m.text("dt") for src, m in net.wire_log if src == "n1" and m.text("t") == "status"]
    assert advertised[0] == f"{500 + 2000:x}"
    assert advertised[-1] == f"{500:x}"


def test_cut_backup_link_is_reported_while_node_stays_active() -> None:
    """Cutting one medium of a node is reported as that link dead within deadtime + keepalive."""
    net = SimNet(["n1", "n2", "n3"])
    net.start()
    net.run(6.0)
    cut_at = net.clock.seconds()
    net.cut("n3", "eth1")
    net.run(1.0)
    for observer in ("n1", "n2"):
        moment = net.when(observer, LinkStatusChanged, node="n3", link="eth1", new="dead")
        assert moment is not None and moment - cut_at <= 0.5 + 0.1
        assert net.nodes[observer].status_of("n3") == "active"
        assert net.nodes[observer].link_of("n3", "eth0") == "up"
    assert net.nodes["n3"].link_of("n1", "eth1") == "dead"
    net.heal("n3", "eth1")
    net.run(0.5)
    assert net.nodes["n1"].link_of("n3", "eth1") == "up"


def test_cutting_every_link_declares_the_node_dead() -> None:
    """A node cut from all media is declared dead by the others within deadtime + keepalive."""
    net = SimNet(["n1", "n2", "n3"])
    net.start()
    net.run(6.0)
    cut_at = net.clock.seconds()
    net.cut("n3", "eth0")
    net.cut("n3", "eth1")
    net.run(1.0)
    for observer in ("n1", "n2"):
        moment = net.when(observer, NodeStatusChanged, node="n3", new="dead")
        assert moment is not None and moment - cut_at <= 0.6
        assert net.nodes[observer].status_of("n3") == "dead"


def test_crashed_node_restarts_with_new_generation_and_rejoins() -> None:
    """A killed node that restarts is seen as a new generation and becomes active again."""
    net = SimNet(["n1", "n2"])
    net.start()
    net.run(6.0)
    net.crash("n2")
    net.run(1.0)
    assert net.nodes["n1"].status_of("n2") == "dead"
    net.restart("n2")
    net.run(2.0)
    assert net.when("n1", NodeRestarted, node="n2", old_generation=100, new_generation=101)
    assert net.nodes["n1"].status_of("n2") == "active"
    assert net.nodes["n2"].status_of("n1") == "active"


def test_node_alone_comes_up_after_initdead() -> None:
    """A lone node declares unheard peers dead after initdead and then becomes active."""
    net = SimNet(["n1", "n2"])
    net.start("n1")
    net.crash("n2")
    net.run(0.9)
    assert not net.nodes["n1"].core.comm_up
    net.run(0.3)
    assert net.nodes["n1"].status_of("n2") == "dead"
    comm_up = net.when("n1", CommUp)
    dead = net.when("n1", NodeStatusChanged, node="n2", new="dead")
    assert comm_up is not None and dead is not None and dead <= comm_up
    assert net.nodes["n1"].core.local_status == "active"


def test_twenty_percent_loss_never_declares_a_node_dead() -> None:
    """Two media at 20 % independent loss for 120 simulated seconds cause no false death."""
    net = SimNet(["n1", "n2", "n3"], loss=0.2, seed=7)
    net.start()
    net.run(120.0, step=0.01)
    for node in net.nodes.values():
        deaths = [e for _, e in node.events if isinstance(e, NodeStatusChanged) and e.new == "dead"]
        assert deaths == []


def test_local_stall_defers_verdicts_instead_of_killing_peers() -> None:
    """When this node's loop stalls past deadtime, timers report a stall and peers survive."""
    net = SimNet(["n1", "n2"])
    net.start()
    net.run(2.0)
    net.clock.advance(1.5)
    net.run(0.5)
    stalls = [event for _, event in net.nodes["n1"].events if isinstance(event, LocalStall)]
    assert stalls and 1000 <= stalls[0].stalled_ms <= 1500
    assert net.when("n1", NodeStatusChanged, node="n2", new="dead") is None
    assert net.nodes["n1"].status_of("n2") == "active"


def test_shutdown_notice_marks_the_node_dead_at_once() -> None:
    """A peer's `shutdone` is reported and the peer is marked dead without waiting deadtime."""
    net = SimNet(["n1", "n2"])
    net.start()
    net.run(6.0)
    net.nodes["n2"].core.shutdown()
    net.crash("n2")
    net.run(0.01)
    notice = net.when("n1", ShutdownNotice, node="n2")
    dead = net.when("n1", NodeStatusChanged, node="n2", new="dead")
    assert notice is not None and notice == dead
    assert net.nodes["n1"].status_of("n2") == "dead"


def test_replayed_older_generation_is_dropped() -> None:
    """A message from an older generation than the one known is counted as a replay and dropped."""
    net = SimNet(["n1", "n2"])
    net.start()
    net.run(1.0)
    old_status = next(m for src, m in net.wire_log if src == "n2" and m.text("t") == "status")
    net.crash("n2")
    net.restart("n2")
    net.run(1.0)
    before = net.nodes["n1"].core.stats.dropped.replay
    net.nodes["n1"].core.receive(old_status, "eth0")
    assert net.nodes["n1"].core.stats.dropped.replay == before + 1


def test_reqnodes_is_answered_with_the_full_node_list() -> None:
    """A `reqnodes` is answered by `repnodes` listing every node followed by a space."""
    net = SimNet(["n1", "n2", "n3"])
    net.start()
    net.run(2.0)
    replies = [m for _, m in net.wire_log if m.text("t") == "repnodes"]
    assert replies
    assert replies[0].text("nodelist") == "n1 n2 n3 "
    assert replies[0].text("delnodelist") == " "
    assert [f.name for f in replies[0].fields][:4] == [b"dest", b"t", b"nodelist", b"delnodelist"]


def test_acks_are_sent_at_least_every_ten_messages() -> None:
    """Each receiver acknowledges a sender's stream at least once per ten sequence numbers."""
    net = SimNet(["n1", "n2"])
    net.start()
    net.run(5.0)
    acks = [
        int(m.text("ackseq") or "0", 16)
        for src, m in net.wire_log
        if src == "n2" and m.text("t") == "NS_ackmsg"
    ]
    assert acks and acks == sorted(acks)
    assert net.nodes["n1"].core.delivery.stamper.last_seq - acks[-1] < 10
    assert net.nodes["n1"].core.delivery.streams["n2"].ackseq == acks[-1]


def test_peer_advertised_deadtime_is_honoured() -> None:
    """A peer advertising a longer `dt` is given that long before being declared dead."""
    slow = Timing(keepalive_ms=100, deadtime_ms=500, warntime_ms=250, initdead_ms=1000)
    net = SimNet(["n1", "n2"], timing=slow)
    net.start()
    net.run(6.0)
    net.nodes["n1"].core.membership.peers["n2"].deadtime_ms = 900
    net.nodes["n2"].core.membership.timing = Timing(100, 900, 450, 1000)
    net.run(0.5)
    crashed_at = net.clock.seconds()
    net.crash("n2")
    net.run(1.5)
    moment = net.when("n1", NodeStatusChanged, node="n2", new="dead")
    assert moment is not None and 0.8 <= moment - crashed_at <= 1.0


def test_shutdown_notice_on_two_media_is_reported_once() -> None:
    """The copies of one `shutdone` arriving on every medium make one notice, not one each."""
    net = SimNet(["n1", "n2"])
    net.start()
    net.run(6.0)
    net.nodes["n2"].core.shutdown()
    net.crash("n2")
    net.run(0.1)
    notices = [e for _, e in net.nodes["n1"].events if isinstance(e, ShutdownNotice)]
    assert len(notices) == 1


def test_own_links_are_never_timed_out() -> None:
    """A node's own links are not declared dead when it stops hearing itself (spec 6.2)."""
    net = SimNet(["n1", "n2"])
    core = net.nodes["n1"].core
    net.start()
    net.run(1.0)
    core.receive(next(m for s, m in net.wire_log if s == "n1"), "eth0")
    net.run(3.0)
    assert core.membership.peers["n1"].links["eth0"].status == "up"


def test_status_after_a_shutdown_notice_does_not_revive_the_node() -> None:
    """Status messages a stopping peer still sends after `shutdone` keep it dead (same generation)."""
    net = SimNet(["n1", "n2"])
    net.start()
    net.run(6.0)
    net.nodes["n2"].core.shutdown()
    net.run(1.0)
    assert net.nodes["n1"].status_of("n2") == "dead"
    changes = [
        e for _, e in net.nodes["n1"].events if isinstance(e, NodeStatusChanged) and e.node == "n2"
    ]
    assert changes[-1].new == "dead" and net.when("n1", PartitionHealed) is None
    net.crash("n2")
    net.restart("n2")
    net.run(2.0)
    assert net.nodes["n1"].status_of("n2") == "active"
