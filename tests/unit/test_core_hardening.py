"""Regressions of the node core: restarts seen on any message, replays, NAK storms, timers."""

from __future__ import annotations

from hbtwist.core.events import MessagesLost, NodeRestarted
from hbtwist.wire import FieldType, Message
from tests.simnet import SimNet


def _from_n2(net: SimNet, *fields: tuple[str, str], generation: int, seq: int | None) -> Message:
    """A message as n2 would stamp it, with the given generation and sequence number."""
    message = Message.of(*fields, ("src", "n2"))
    message = message.with_field("srcuuid", net.nodes["n2"].core.identity.uuid, FieldType.BINARY)
    if seq is not None:
        message = message.with_field("seq", f"{seq:x}".encode(), FieldType.STRING)
    message = message.with_field("hg", f"{generation:x}".encode(), FieldType.STRING)
    return message.with_field("ts", b"6553f100", FieldType.STRING)


def test_a_restart_is_seen_on_its_first_message_whatever_its_type() -> None:
    """A restarted peer's first message (`starting`, seq 1) is delivered as a new stream, not
    dropped as a duplicate of the old generation's number 1."""
    net = SimNet(["n1", "n2"])
    net.start()
    net.run(6.0)
    n1 = net.nodes["n1"]
    generation = n1.core.membership.peers["n2"].generation
    n1.core.receive(_from_n2(net, ("t", "starting"), generation=generation + 1, seq=1), "eth0")
    assert [m.text("t") for s, m in n1.delivered if s == "n2"][-1:] == ["starting"]
    assert net.when("n1", NodeRestarted, node="n2", new_generation=generation + 1) is not None
    assert n1.core.membership.peers["n2"].generation == generation + 1


def test_unsequenced_messages_of_an_older_generation_are_replays() -> None:
    """An `NS_ackmsg` carrying an older generation than the peer's is dropped as a replay and
    does not move the acknowledgement."""
    net = SimNet(["n1", "n2"])
    net.start()
    net.run(6.0)
    core = net.nodes["n1"].core
    generation = core.membership.peers["n2"].generation
    acked = core.delivery.streams["n2"].ackseq
    replays = core.stats.dropped.replay
    stale = _from_n2(
        net,
        ("t", "NS_ackmsg"),
        ("dest", "n1"),
        ("ackseq", f"{core.delivery.stamper.last_seq:x}"),
        generation=generation - 1,
        seq=None,
    )
    core.receive(stale, "eth0")
    assert core.stats.dropped.replay == replays + 1
    assert core.delivery.streams["n2"].ackseq == acked


def test_repeated_requests_for_gone_numbers_get_one_nak_each() -> None:
    """Three identical requests (for example one per medium) for numbers no longer held cost
    one NAK per number, not three."""
    net = SimNet(["n1", "n2"])
    net.start()
    net.run(1.0)
    core = net.nodes["n1"].core
    core.delivery.history.size = 5
    net.run(1.0)
    generation = core.membership.peers["n2"].generation
    core.delivery.streams["n2"].ackseq = 0
    request = _from_n2(
        net,
        ("t", "NS_rexmit"),
        ("dest", "n1"),
        ("firstseq", "1"),
        ("lastseq", "50"),
        generation=generation,
        seq=None,
    )
    before = len(net.wire_log)
    for _ in range(3):
        core.receive(request, "eth0")
    naks = [m for source, m in net.wire_log[before:] if m.text("t") == "NS_nak_rexmit"]
    gone = core.delivery.history.lowest - 1
    assert gone > 5
    assert sorted(int(m.text("firstseq") or "0", 16) for m in naks) == list(range(1, gone + 1))


def test_heartbeats_go_on_when_sending_raises() -> None:
    """An exception while sending one heartbeat does not stop the heartbeat timer."""
    net = SimNet(["n1", "n2"])
    net.start()
    net.run(1.0)
    node = net.nodes["n1"]
    transmit = node.output.transmit
    failures = [1]

    def flaky(message: Message) -> None:
        if failures:
            failures.pop()
            raise OSError("the medium failed")
        transmit(message)

    node.output.transmit = flaky
    try:
        net.run(0.2)
    except OSError:
        pass
    before = sum(1 for source, m in net.wire_log if source == "n1" and m.text("t") == "status")
    net.run(1.0)
    after = sum(1 for source, m in net.wire_log if source == "n1" and m.text("t") == "status")
    assert after - before >= 9


def test_a_flood_of_gaps_gives_up_the_oldest_numbers_and_says_so() -> None:
    """Gaps beyond what is remembered are reported lost, and nothing is asked for any more
    than is remembered as missing."""
    net = SimNet(["n1", "n2"])
    net.start()
    net.run(6.0)
    core = net.nodes["n1"].core
    generation = core.membership.peers["n2"].generation
    start = (core.delivery.streams["n2"].tracker.last_seq or 0) + 1
    for jump in range(5):
        seq = start + 200 * (jump + 1)
        core.receive(_from_n2(net, ("t", "app"), generation=generation, seq=seq), "eth0")
    tracker = core.delivery.streams["n2"].tracker
    assert len(tracker.missing) <= 499
    held = core.delivery.snapshot()
    assert held.pending_requests <= len(tracker.missing)
    delivered = [m for s, m in net.nodes["n1"].delivered if s == "n2" and m.text("t") == "app"]
    assert delivered and len(delivered) + held.held_messages == 5
    lost = [e for _, e in net.nodes["n1"].events if isinstance(e, MessagesLost) and e.node == "n2"]
    assert lost and lost[0].reason == "too many messages missing"


def test_a_jump_too_large_to_repair_stops_every_request_for_the_sender() -> None:
    """After a small gap, a jump past what can be repaired gives up the earlier gap too: no
    request for it is left behind, and both are reported lost, oldest first."""
    net = SimNet(["n1", "n2"])
    net.start()
    net.run(6.0)
    core = net.nodes["n1"].core
    generation = core.membership.peers["n2"].generation
    start = (core.delivery.streams["n2"].tracker.last_seq or 0) + 1
    for seq in (start + 10, start + 10 + 300):
        core.receive(_from_n2(net, ("t", "app"), generation=generation, seq=seq), "eth0")
    assert core.delivery.snapshot().pending_requests == 0
    lost = [(e.first, e.last) for _, e in net.nodes["n1"].events if isinstance(e, MessagesLost)]
    assert lost == [(start, start + 9), (start + 11, start + 309)]
