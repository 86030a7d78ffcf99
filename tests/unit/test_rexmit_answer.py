"""The sender side of retransmission: answering NS_rexmit from the transmit history."""

from __future__ import annotations

from hbtwist.wire import Message, encode_datagram
from tests.simnet import KEYRING, SimNet


def _request(net: SimNet, first: int, last: int | None = None) -> Message:
    """A stamped NS_rexmit from n2 asking n1 for `first`..`last` (decimal, as Heartbeat sends).

    n1's record of n2's acknowledgements is cleared: numbers n2 acknowledged are never resent.
    """
    net.nodes["n1"].core.delivery.streams["n2"].ackseq = 0
    stamper = net.nodes["n2"].core.delivery.stamper
    return stamper.stamp(
        Message.of(
            ("t", "NS_rexmit"),
            ("dest", "n1"),
            ("firstseq", str(first)),
            ("lastseq", str(last if last is not None else first)),
        )
    )


def _sent_by_n1(net: SimNet) -> list[Message]:
    return [message for source, message in net.wire_log if source == "n1"]


def test_requested_message_is_resent_byte_identically() -> None:
    """A requested sequence number is sent again as exactly the same datagram."""
    net = SimNet(["n1", "n2"])
    net.start()
    net.run(1.0)
    original = next(m for m in _sent_by_n1(net) if m.text("seq") == "5")
    before = len(net.wire_log)
    net.nodes["n1"].core.receive(_request(net, 5), "eth0")
    resent = [m for _, m in net.wire_log[before:] if m.text("seq") == "5"]
    assert [encode_datagram(m, KEYRING) for m in resent] == [encode_datagram(original, KEYRING)]


def test_repeated_request_within_the_guard_is_suppressed() -> None:
    """A second request for the same number within max_rexmit_delay - 10 ms is not answered."""
    net = SimNet(["n1", "n2"])
    net.start()
    net.run(1.0)
    core = net.nodes["n1"].core
    core.receive(_request(net, 6), "eth0")
    core.receive(_request(net, 6), "eth1")
    assert core.stats.rexmit.answered == 1
    assert core.stats.rexmit.suppressed == 1
    net.run(0.3)
    core.receive(_request(net, 6), "eth0")
    assert core.stats.rexmit.answered == 2


def test_number_out_of_history_gets_a_nak() -> None:
    """A number older than the history is answered with NS_nak_rexmit `seqno too low` (hex)."""
    net = SimNet(["n1", "n2"])
    net.start()
    core = net.nodes["n1"].core
    core.delivery.history.size = 5
    net.run(2.0)
    before = len(net.wire_log)
    core.receive(_request(net, 2), "eth0")
    naks = [m for s, m in net.wire_log[before:] if s == "n1" and m.text("t") == "NS_nak_rexmit"]
    assert len(naks) == 1
    assert (naks[0].text("firstseq"), naks[0].text("dest"), naks[0].text("info")) == (
        "2",
        "n2",
        "seqno too low",
    )


def test_huge_range_is_capped_at_fifty() -> None:
    """One request for a huge range makes at most 50 retransmissions or NAKs."""
    net = SimNet(["n1", "n2"])
    net.start()
    net.run(10.0)
    core = net.nodes["n1"].core
    before = len(net.wire_log)
    core.receive(_request(net, 1, 2_000_000_000), "eth0")
    answers = [m for s, m in net.wire_log[before:] if s == "n1" and m.text("t") != "status"]
    assert 0 < len(answers) <= 50


def test_acknowledged_numbers_are_not_resent() -> None:
    """A number the requester already acknowledged is neither resent nor NAKed."""
    net = SimNet(["n1", "n2"])
    net.start()
    net.run(1.0)
    core = net.nodes["n1"].core
    request = _request(net, 3)
    core.delivery.streams["n2"].ackseq = 3
    core.receive(request, "eth0")
    assert core.stats.rexmit.answered == core.stats.rexmit.naks_sent == 0


def test_request_for_another_node_is_ignored() -> None:
    """An NS_rexmit addressed to a different node triggers nothing here."""
    net = SimNet(["n1", "n2", "n3"])
    net.start()
    net.run(1.0)
    stamper = net.nodes["n2"].core.delivery.stamper
    request = stamper.stamp(
        Message.of(("t", "NS_rexmit"), ("dest", "n3"), ("firstseq", "3"), ("lastseq", "3"))
    )
    net.nodes["n1"].core.receive(request, "eth0")
    assert net.nodes["n1"].core.stats.rexmit.requests_received == 0
