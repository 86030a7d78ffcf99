"""Reliable delivery over lossy media: NACK repair, in-order exactly-once delivery, gap reports."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hbtwist.core.caps import PUMP_BATCH
from hbtwist.core.events import MessagesLost
from hbtwist.core.timing import Timing
from hbtwist.wire import Message
from tests.simnet import SimNet

RELAXED = Timing(keepalive_ms=500, deadtime_ms=3000, warntime_ms=1500, initdead_ms=3000)
"""Fewer heartbeats, so that 16-node property runs stay fast."""


def _submit(net: SimNet, sender: str, count: int, spacing: float = 0.01, start: int = 0) -> None:
    """Have `sender` submit messages numbered from `start`, `spacing` seconds apart."""
    for number in range(start, start + count):
        net.nodes[sender].core.submit(Message.of(("t", "app"), ("n", str(number))))
        if spacing:
            net.run(spacing, step=spacing)


def _numbers_from(net: SimNet, receiver: str, sender: str) -> list[int]:
    """The application message numbers `receiver` delivered from `sender`, in delivery order."""
    return [
        int(message.text("n") or "-1")
        for source, message in net.nodes[receiver].delivered
        if source == sender and message.text("t") == "app"
    ]


def _lost_count(net: SimNet, receiver: str, sender: str) -> int:
    return sum(
        event.last - event.first + 1
        for _, event in net.nodes[receiver].events
        if isinstance(event, MessagesLost) and event.node == sender
    )


def test_messages_arrive_everywhere_in_order_at_thirty_percent_loss() -> None:
    """At 30 % loss on both media, every message reaches every node once, in order."""
    net = SimNet(["n1", "n2", "n3"], loss=0.3, seed=3)
    net.start()
    net.run(3.0)
    _submit(net, "n1", 300)
    net.loss = 0.0
    net.run(5.0)
    for receiver in ("n1", "n2", "n3"):
        assert _numbers_from(net, receiver, "n1") == list(range(300))


def test_nack_requests_stay_near_one_per_lost_packet_with_many_receivers() -> None:
    """When 8 receivers all miss the same packets, they send about one request per packet."""
    net = SimNet([f"n{i}" for i in range(1, 10)], source_loss=0.3, seed=5)
    net.start()
    net.run(3.0)
    sent_before = net.nodes["n1"].core.delivery.stamper.last_seq
    _submit(net, "n1", 200)
    net.source_loss = 0.0
    net.run(5.0)
    lost_by_all = net.nodes["n2"].core.stats.lost
    requests = sum(net.nodes[name].core.stats.rexmit.requests_sent for name in net.names)
    assert lost_by_all > 0 and net.nodes["n1"].core.delivery.stamper.last_seq > sent_before
    assert requests / lost_by_all < 2.0
    for receiver in net.names:
        assert _numbers_from(net, receiver, "n1") == list(range(200))


def test_message_out_of_history_is_reported_as_a_gap() -> None:
    """A message the sender no longer holds becomes an explicit MessagesLost event, not a hole."""
    net = SimNet(["n1", "n2"], seed=9)
    net.start()
    net.run(3.0)
    net.nodes["n1"].core.delivery.history.size = 3
    net.cut("n2", "eth0")
    net.cut("n2", "eth1")
    _submit(net, "n1", 5, spacing=0.0)
    net.heal("n2", "eth0")
    net.heal("n2", "eth1")
    _submit(net, "n1", 3, spacing=0.0, start=5)
    net.run(3.0)
    numbers = _numbers_from(net, "n2", "n1")
    assert numbers[-3:] == [5, 6, 7]
    assert numbers == sorted(set(numbers))
    assert _lost_count(net, "n2", "n1") >= 5 - len(numbers[:-3])


def test_requests_per_gap_are_bounded_when_the_sender_never_answers() -> None:
    """A receiver asks a silent sender a bounded number of times, then reports the gap."""
    net = SimNet(["n1", "n2"], seed=4)
    net.start()
    net.run(3.0)
    n1 = net.nodes["n1"].core
    n1.delivery.rexmit.answer = lambda *args: None  # type: ignore[method-assign]
    net.cut("n2", "eth0")
    net.cut("n2", "eth1")
    _submit(net, "n1", 1, spacing=0.0)
    net.heal("n2", "eth0")
    net.heal("n2", "eth1")
    net.run(30.0, step=0.01)
    assert net.nodes["n2"].core.stats.rexmit.requests_sent <= 41
    assert _lost_count(net, "n2", "n1") >= 1
    assert net.nodes["n2"].core.delivery.rexmit.pending() == 0


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    size=st.integers(min_value=2, max_value=16),
    loss=st.floats(min_value=0.0, max_value=0.5),
    duplicate=st.floats(min_value=0.0, max_value=0.3),
    jitter=st.floats(min_value=0.0, max_value=0.02),
    count=st.integers(min_value=1, max_value=40),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_random_loss_duplication_and_reordering_never_break_delivery(
    size: int, loss: float, duplicate: float, jitter: float, count: int, seed: int
) -> None:
    """For any loss (≤50 %), duplication and reordering, delivery is in order and exactly once,
    every message not delivered is covered by a reported gap, and all timers drain at the end."""
    names = [f"n{i}" for i in range(1, size + 1)]
    net = SimNet(names, timing=RELAXED, loss=loss, duplicate=duplicate, jitter=jitter, seed=seed)
    net.start()
    net.run(2.0, step=0.01)
    senders = names[:2]
    for number in range(count):
        for sender in senders:
            net.nodes[sender].core.submit(Message.of(("t", "app"), ("n", str(number))))
        net.run(0.02, step=0.01)
    net.loss = net.duplicate = 0.0
    net.run(11.0, step=0.02)
    for receiver in names:
        for sender in senders:
            numbers = _numbers_from(net, receiver, sender)
            assert numbers == sorted(set(numbers)), "out of order or duplicated"
            missing = count - len(numbers)
            assert missing == 0 or _lost_count(net, receiver, sender) >= missing
    for name in names:
        net.crash(name)
    net.run(0.1, step=0.01)
    assert net.clock.getDelayedCalls() == []


def test_a_long_queue_is_sent_in_small_batches() -> None:
    """A burst of submitted messages goes out a batch per event-loop turn, all in order."""
    net = SimNet(["n1", "n2"], seed=2)
    net.start()
    net.run(3.0)
    core = net.nodes["n1"].core
    n2 = core.delivery.streams["n2"]
    acknowledged, n2.ackseq = n2.ackseq, 0
    core.delivery.stamper.last_seq += 300
    for number in range(100):
        core.submit(Message.of(("t", "app"), ("n", str(number))))
    assert core.paused and core.queued == 100
    core.delivery.stamper.last_seq -= 300
    n2.ackseq = acknowledged
    sent = core.stats.sent
    core.submit(Message.of(("t", "app"), ("n", "100")))
    assert core.stats.sent - sent == PUMP_BATCH
    net.run(1.0)
    assert core.queued == 0
    assert _numbers_from(net, "n2", "n1") == list(range(101))
