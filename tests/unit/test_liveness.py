"""When a peer counts as alive: heartbeat copies spread over the keepalive, any authentic
message keeping a peer alive, replayed copies that cannot, packets read before a verdict, and
silence heard through a stall of this node that proves nothing."""

from __future__ import annotations

import pytest

from hbtwist.core.events import LinkStatusChanged, LocalStall, NodeStatusChanged, PartitionHealed
from hbtwist.core.timing import MAX_HEARTBEAT_COPIES, Timing, heartbeat_copies
from hbtwist.wire import Message, decode_datagram, encode_datagram
from tests.simnet import KEYRING, SimNet

BENCH = Timing(keepalive_ms=10, deadtime_ms=60, warntime_ms=30, initdead_ms=1000)
"""The failover benchmark's setting."""


def deaths(net: SimNet) -> int:
    """How many times any node declared another dead."""
    return sum(
        1
        for node in net.nodes.values()
        for _, event in node.events
        if isinstance(event, NodeStatusChanged) and event.new == "dead"
    )


@pytest.mark.parametrize(
    ("keepalive_ms", "deadtime_ms", "media", "copies"),
    [
        (10, 60, 2, 2),  # the benchmark setting: 12 chances per copy
        (1000, 30000, 1, 1),  # Heartbeat's defaults
        (1000, 10000, 1, 2),
        (2000, 10000, 2, 2),
        (10, 30, 1, MAX_HEARTBEAT_COPIES),
        (10, 60, 9, 1),
    ],
)
def test_copies_give_a_deadtime_eighteen_chances(
    keepalive_ms: int, deadtime_ms: int, media: int, copies: int
) -> None:
    """The number of copies is the fewest for which copies x media x keepalives-per-deadtime
    reaches 18, at most four."""
    timing = Timing(keepalive_ms, deadtime_ms, deadtime_ms // 2, deadtime_ms * 2)
    assert heartbeat_copies(timing, media) == copies


def lose_one_status_of(net: SimNet, node: str) -> None:
    """Lose the next status `node` sends, and nothing else: the other node sees a gap."""
    lost: list[Message] = []

    def next_status(source: str, message: Message) -> bool:
        if lost or source != node or message.text("t") != "status":
            return False
        lost.append(message)
        return True

    net.lost_at_source = next_status
    net.run(0.05, step=0.001)
    net.lost_at_source = lambda source, message: False
    assert lost


def statuses_sent(net: SimNet, node: str, since: int = 0) -> list[Message]:
    """The statuses `node` sent after the first `since` packets of the wire log."""
    return [
        message
        for source, message in net.wire_log[since:]
        if source == node and message.text("t") == "status"
    ]


def test_a_clean_network_gets_each_status_once() -> None:
    """With two copies allowed but nothing lost, every status goes out once, as from Heartbeat."""
    net = SimNet(["n1", "n2"], timing=BENCH, heartbeat_copies=2)
    net.start()
    net.run(1.0, step=0.001)
    numbers = [message.text("seq") for message in statuses_sent(net, "n1")]
    assert len(numbers) >= 90
    assert len(numbers) == len(set(numbers))


def test_each_status_is_repeated_as_it_was_half_a_keepalive_later_once_loss_shows() -> None:
    """Once n1 sees a gap in n2's numbers, every status n1 sends goes out again 5 ms after
    itself, with the same number and fields, and nothing else is sent twice."""
    net = SimNet(["n1", "n2"], timing=BENCH, heartbeat_copies=2)
    net.start()
    net.run(1.0, step=0.001)
    lose_one_status_of(net, "n2")
    since = len(net.wire_log)
    net.run(1.0, step=0.001)
    sent = [message for source, message in net.wire_log[since:] if source == "n1"]
    statuses = statuses_sent(net, "n1", since)
    numbers = [message.text("seq") for message in statuses]
    repeated = [number for number in dict.fromkeys(numbers) if numbers.count(number) == 2]
    assert len(repeated) >= 90  # nearly one per keepalive (a change of status sends anew)
    for number in repeated:
        first, second = (message for message in statuses if message.text("seq") == number)
        assert first == second
    others = [message.text("seq") for message in sent if message.text("t") != "status"]
    numbered = [number for number in others if number is not None]
    assert len(numbered) == len(set(numbered))


def test_copies_keep_a_peer_alive_when_every_original_is_lost() -> None:
    """Once n2 has seen loss, if its every original status is lost, the copies alone keep it
    alive."""
    net = SimNet(["n1", "n2"], timing=BENCH, heartbeat_copies=2)
    net.start()
    net.run(6.0, step=0.001)  # past the start-up deadtime
    assert net.nodes["n1"].status_of("n2") == "active"
    lose_one_status_of(net, "n1")
    originals: set[str | None] = set()

    def original_status_of_n2(source: str, message: Message) -> bool:
        number = message.text("seq")
        if source != "n2" or message.text("t") != "status" or number in originals:
            return False
        originals.add(number)
        return True

    net.lost_at_source = original_status_of_n2
    net.run(5.0, step=0.001)
    assert len(originals) > 400
    assert net.nodes["n1"].status_of("n2") == "active"
    assert deaths(net) == 0


def test_copies_make_heavy_loss_survivable() -> None:
    """At 60 % loss on two media at keepalive 10 ms / deadtime 60 ms, one copy per keepalive
    lets nodes be declared dead within 35 simulated seconds; two copies do not."""
    single = SimNet(["n1", "n2"], timing=BENCH, loss=0.6, seed=1)
    single.start()
    single.run(35.0, step=0.002)
    double = SimNet(["n1", "n2"], timing=BENCH, loss=0.6, seed=1, heartbeat_copies=2)
    double.start()
    double.run(35.0, step=0.002)
    assert deaths(single) > 0
    assert deaths(double) == 0


def test_a_replayed_copy_cannot_keep_a_dead_node_alive() -> None:
    """After a node dies, copies of its last status replayed every 2 ms are believed for one
    keepalive at most: it is declared dead within keepalive + deadtime of its last message."""
    net = SimNet(["n1", "n2"], timing=BENCH)
    net.start()
    net.run(6.0, step=0.001)  # past the start-up deadtime
    last = [message for source, message in net.wire_log if source == "n2"][-1]
    replay = decode_datagram(encode_datagram(last, KEYRING), KEYRING)
    net.crash("n2")
    crashed = net.clock.seconds()
    for tick in range(100):
        net.clock.callLater(0.002 * tick, net._deliver, "n1", replay, "eth0")
    net.run(0.3, step=0.001)
    died = net.when("n1", NodeStatusChanged, node="n2", new="dead")
    assert died is not None
    assert died - crashed <= (10 + 60 + 2) / 1000


def test_a_packet_that_arrived_before_the_timer_ran_is_read_before_the_verdict() -> None:
    """When this node's loop wakes late, after a peer's deadline passed but with that peer's
    status already waiting, the status is taken first: no death, no healed partition."""
    net = SimNet(["n1", "n2"], timing=BENCH)
    net.start()
    net.run(6.0, step=0.001)  # past the start-up deadtime
    net.cut("n2", "eth0")
    net.cut("n2", "eth1")
    net.run(0.05, step=0.001)
    waiting = [message for source, message in net.wire_log if source == "n2"][-1]
    queued = decode_datagram(encode_datagram(waiting, KEYRING), KEYRING)
    net.clock.callLater(0.015, net._deliver, "n1", queued, "eth0")
    net.clock.advance(0.02)  # one late wake-up: past the deadline, and past the arrival
    assert net.when("n1", NodeStatusChanged, node="n2", new="dead") is None
    assert net.when("n1", PartitionHealed, node="n2") is None
    assert net.nodes["n1"].status_of("n2") == "active"


def test_a_machine_held_most_of_the_time_accuses_nobody() -> None:
    """Both nodes held together 80 ms out of every 100 ms (a virtual machine out of CPU quota)
    for two seconds: each sees its own stalls, and no node or link is declared dead."""
    net = SimNet(["n1", "n2"], timing=BENCH)
    net.start()
    net.run(6.0, step=0.001)  # past the start-up deadtime
    for _ in range(20):
        net.clock.advance(0.08)
        net.run(0.02, step=0.001)
    net.run(1.0, step=0.001)
    assert deaths(net) == 0
    for name in ("n1", "n2"):
        assert net.when(name, LocalStall) is not None
        assert net.when(name, LinkStatusChanged, new="dead") is None
