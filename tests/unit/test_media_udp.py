"""The UDP media on real sockets and a fake reactor: sends never raise, receives never break, ports are
never shared with another process."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from twisted.logger import globalLogPublisher

from hbtwist.config import BcastMedium, UcastMedium
from hbtwist.media import dgram
from hbtwist.media.dgram import DatagramSocket
from hbtwist.media.guard import send_all
from hbtwist.media.interface import IMediumLink, MediumContext, MediumUnavailable, Outgoing
from hbtwist.media.udp import UdpLink, UdpMediumType
from hbtwist.wire import AuthKey, AuthMethod, Keyring, Message, encode_datagram

KEYRING = Keyring(1, {1: AuthKey(1, AuthMethod.SHA1, b"secret")})


class FakeReaderReactor:
    """Just what the UDP media need of a reactor: the set of descriptors it reads."""

    def __init__(self) -> None:
        self.readers: list[DatagramSocket] = []
        """Every socket ever added, in order (closed ones stay, with fileno -1)."""
        self.reading: set[DatagramSocket] = set()

    def addReader(self, reader: DatagramSocket) -> None:  # noqa: N802
        """Watch `reader`."""
        self.readers.append(reader)
        self.reading.add(reader)

    def removeReader(self, reader: DatagramSocket) -> None:  # noqa: N802
        """Stop watching `reader`."""
        self.reading.discard(reader)


def failing(reader: DatagramSocket, failure: Exception) -> None:
    """Make every send through `reader` raise `failure`."""

    def send(data: bytes, address: Any) -> None:
        raise failure

    reader.send = send  # type: ignore[method-assign]


def free_port() -> int:
    """A UDP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def outgoing() -> Outgoing:
    """One signed message ready to send."""
    message = Message.of(("t", "status"), ("src", "alpha"))
    return Outgoing(message, encode_datagram(message, KEYRING), KEYRING)


@pytest.fixture
def delivered() -> list[tuple[bytes, str, object]]:
    """What the fake daemon received."""
    return []


@pytest.fixture
def context(delivered: list[tuple[bytes, str, object]]) -> MediumContext:
    """A context on the fake reactor, bound to 127.0.0.1 (no SO_BINDTODEVICE, no root needed)."""

    def deliver(data: bytes, link: str, source: object) -> None:
        if data == b"poison":
            raise RuntimeError("the daemon choked")
        delivered.append((data, link, source))

    return MediumContext(FakeReaderReactor(), deliver, "alpha", bind_address="127.0.0.1")


@pytest.fixture
def warnings() -> Iterator[list[dict[str, Any]]]:
    """Log events of warning level or above, while the test runs."""
    events: list[dict[str, Any]] = []

    def observe(event: dict[str, Any]) -> None:
        level = event.get("log_level")
        if level is not None and level.name in ("warn", "error", "critical"):
            events.append(event)

    globalLogPublisher.addObserver(observe)
    yield events
    globalLogPublisher.removeObserver(observe)


def ucast_link(context: MediumContext, port: int, peer: str = "127.0.0.1") -> UdpLink:
    """A started ucast link on lo."""
    link = UdpMediumType("ucast").open(UcastMedium("lo", peer, port), context)
    link.start()
    return link


def test_link_provides_the_interface(context: MediumContext) -> None:
    """A UDP link declares IMediumLink and starts with no send failures."""
    link = ucast_link(context, free_port())
    assert IMediumLink.providedBy(link)
    assert link.send_failures == 0
    link.stop()


def test_ucast_peer_name_resolved_at_start(
    context: MediumContext, delivered: list[tuple[bytes, str, object]]
) -> None:
    """A ucast peer given by name is sent to at its address: a link sending to its own port
    reads back what it sent, from 127.0.0.1."""
    port = free_port()
    link = ucast_link(context, port, peer="localhost")
    link.send(outgoing())
    context.reactor.readers[0].doRead()
    assert delivered == [(outgoing().datagram, "lo", ("127.0.0.1", port))]
    link.stop()


def test_read_stops_when_the_socket_is_empty(
    context: MediumContext, delivered: list[tuple[bytes, str, object]]
) -> None:
    """One read turn takes every datagram waiting, in order, then returns."""
    link = ucast_link(context, free_port())
    for number in range(3):
        link._port.socket.send(b"datagram %d" % number, link._destination)  # type: ignore[union-attr]
    context.reactor.readers[0].doRead()
    assert [data for data, _link, _source in delivered] == [b"datagram 0", b"datagram 1", b"datagram 2"]
    link.stop()


@pytest.mark.parametrize(
    "failure",
    [OSError(90, "Message too long"), OSError(101, "Network is unreachable")],
)
def test_send_failures_are_counted_not_raised(context: MediumContext, failure: Exception) -> None:
    """What a UDP socket's send raises is caught and counted on the link."""
    link = ucast_link(context, free_port())
    failing(context.reactor.readers[0], failure)
    link.send(outgoing())
    link.send(outgoing())
    assert link.send_failures == 2
    link.stop()


def test_one_failing_link_does_not_stop_the_others(context: MediumContext) -> None:
    """With the first link's port failing, the second link still sends every message."""
    first, second = ucast_link(context, free_port()), ucast_link(context, free_port())
    failing(context.reactor.readers[0], OSError(105, "No buffer space available"))
    for _ in range(3):
        send_all([first, second], outgoing())
    assert (first.send_failures, second.send_failures) == (3, 0)
    received: list[bytes] = []
    for _ in range(3):
        received.append(context.reactor.readers[1].socket.recv(65535))
    assert received == [outgoing().datagram] * 3


def test_send_failures_logged_rate_limited(
    context: MediumContext, warnings: list[dict[str, Any]]
) -> None:
    """1000 failed sends log four lines (the 1st, 10th, 100th and 1000th), each with the count."""
    link = ucast_link(context, free_port())
    failing(context.reactor.readers[0], OSError(101, "Network is unreachable"))
    for _ in range(1000):
        link.send(outgoing())
    assert [event["count"] for event in warnings] == [1, 10, 100, 1000]
    assert {event["link"] for event in warnings} == {"lo"}


def test_receive_exception_counted_and_port_kept(
    context: MediumContext,
    delivered: list[tuple[bytes, str, object]],
    warnings: list[dict[str, Any]],
) -> None:
    """An exception from the daemon's deliver stays in the medium: logged once, counted, and
    the next datagram is delivered through the same open port."""
    port = free_port()
    link = ucast_link(context, port)
    reader = context.reactor.readers[0]
    for data in (b"poison", b"poison", b"fine"):
        reader.send(data, ("127.0.0.1", port))
    reader.doRead()
    assert delivered == [(b"fine", "lo", ("127.0.0.1", port))]
    assert link._port.receiver.errors == 2  # type: ignore[union-attr]
    assert len(warnings) == 1
    assert reader in context.reactor.reading
    link.stop()


def test_port_held_by_another_process_is_refused(context: MediumContext) -> None:
    """A second daemon may not share a UDP port (even with SO_REUSEADDR set by the first): start
    raises MediumUnavailable with one clear line, and no socket is left open."""
    port = free_port()
    other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    other.bind(("127.0.0.1", port))
    try:
        link = UdpMediumType("ucast").open(UcastMedium("lo", "127.0.0.1", port), context)
        with pytest.raises(MediumUnavailable) as raised:
            link.start()
    finally:
        other.close()
    assert str(raised.value) == (
        f"UDP port {port} on lo is in use by another process (another heartbeat daemon?)"
    )
    assert context.reactor.readers == []
    assert context.shared == {}


def test_bcast_without_broadcast_address_is_refused(context: MediumContext) -> None:
    """Starting `bcast lo` fails as its host check does: lo has no IPv4 broadcast address."""
    link = UdpMediumType("bcast").open(BcastMedium("lo", free_port()), context)
    with pytest.raises(MediumUnavailable, match="interface 'lo' has no IPv4 broadcast address"):
        link.start()
    assert context.shared == {}


def test_shared_port_closed_by_its_last_user(context: MediumContext) -> None:
    """Two media on one interface and port share one socket, closed when both have stopped."""
    port = free_port()
    first = ucast_link(context, port, "127.0.0.1")
    second = ucast_link(context, port, "127.0.0.3")
    assert len(context.reactor.readers) == 1
    reader = context.reactor.readers[0]
    first.stop()
    assert reader in context.reactor.reading
    second.stop()
    assert reader not in context.reactor.reading
    assert reader.fileno() == -1
    assert context.shared == {}


def test_one_read_turn_is_bounded(
    context: MediumContext,
    delivered: list[tuple[bytes, str, object]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A flood waiting on one socket is read READS_PER_WAKEUP datagrams per turn of the event
    loop (8 here), so timers and other sockets get their turn; the rest is read on the next."""
    monkeypatch.setattr(dgram, "READS_PER_WAKEUP", 8)
    link = ucast_link(context, free_port())
    reader = context.reactor.readers[0]
    for number in range(13):
        reader.send(b"%d" % number, link._destination)
    reader.doRead()
    assert len(delivered) == 8
    reader.doRead()
    assert [int(data) for data, _link, _source in delivered] == list(range(13))
    link.stop()


def test_a_turn_reads_more_than_the_receive_buffer_holds() -> None:
    """One turn may read more datagrams than the kernel's receive buffer can hold, so a node
    that fell behind empties its sockets at every turn and the kernel drops nothing."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        buffer_bytes = probe.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    smallest_datagram_cost = 256  # kernel bookkeeping per queued datagram, payload aside
    assert dgram.READS_PER_WAKEUP > buffer_bytes // smallest_datagram_cost
