"""The UDP media on a fake datagram reactor: sends never raise, receives never break, ports are
never shared with another process."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from twisted.internet.error import InvalidAddressError, MessageLengthError
from twisted.logger import globalLogPublisher

from hbtwist.config import BcastMedium, UcastMedium
from hbtwist.media.guard import send_all
from hbtwist.media.interface import IMediumLink, MediumContext, MediumUnavailable, Outgoing
from hbtwist.media.udp import UdpLink, UdpMediumType
from hbtwist.wire import AuthKey, AuthMethod, Keyring, Message, encode_datagram

KEYRING = Keyring(1, {1: AuthKey(1, AuthMethod.SHA1, b"secret")})


class FakeUdpPort:
    """An adopted UDP port: keeps the socket (so the port stays taken), records or fails writes."""

    def __init__(self, fd: int, protocol: Any) -> None:
        self.socket = socket.socket(fileno=os.dup(fd))
        self.protocol = protocol
        self.written: list[tuple[bytes, tuple[Any, ...]]] = []
        self.failure: Exception | None = None
        self.listening = True
        protocol.makeConnection(self)

    def write(self, datagram: bytes, address: tuple[Any, ...]) -> None:
        """Record the datagram, or raise the configured failure."""
        if self.failure is not None:
            raise self.failure
        self.written.append((datagram, address))

    def stopListening(self) -> None:  # noqa: N802
        """Close the socket."""
        self.listening = False
        self.socket.close()


class FakeDatagramReactor:
    """Just what the UDP media need of a reactor: adoptDatagramPort."""

    def __init__(self) -> None:
        self.ports: list[FakeUdpPort] = []

    def adoptDatagramPort(self, fd: int, family: int, protocol: Any, size: int) -> FakeUdpPort:  # noqa: N802
        """Adopt the socket as a fake port."""
        port = FakeUdpPort(fd, protocol)
        self.ports.append(port)
        return port


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

    return MediumContext(FakeDatagramReactor(), deliver, "alpha", bind_address="127.0.0.1")


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


def test_ucast_peer_name_resolved_at_start(context: MediumContext) -> None:
    """A ucast peer given by name is sent to at its address (Twisted's write wants addresses)."""
    port = free_port()
    link = ucast_link(context, port, peer="localhost")
    link.send(outgoing())
    assert context.reactor.ports[0].written == [(outgoing().datagram, ("127.0.0.1", port))]
    link.stop()


@pytest.mark.parametrize(
    "failure",
    [
        MessageLengthError("message too long"),
        InvalidAddressError("nowhere", "not an address"),
        OSError(101, "Network is unreachable"),
    ],
)
def test_send_failures_are_counted_not_raised(context: MediumContext, failure: Exception) -> None:
    """What a UDP port's write raises is caught and counted on the link."""
    link = ucast_link(context, free_port())
    context.reactor.ports[0].failure = failure
    link.send(outgoing())
    link.send(outgoing())
    assert link.send_failures == 2
    link.stop()


def test_one_failing_link_does_not_stop_the_others(context: MediumContext) -> None:
    """With the first link's port failing, the second link still sends every message."""
    first, second = ucast_link(context, free_port()), ucast_link(context, free_port())
    context.reactor.ports[0].failure = OSError(105, "No buffer space available")
    for _ in range(3):
        send_all([first, second], outgoing())
    assert (first.send_failures, second.send_failures) == (3, 0)
    assert len(context.reactor.ports[1].written) == 3


def test_send_failures_logged_rate_limited(
    context: MediumContext, warnings: list[dict[str, Any]]
) -> None:
    """1000 failed sends log four lines (the 1st, 10th, 100th and 1000th), each with the count."""
    link = ucast_link(context, free_port())
    context.reactor.ports[0].failure = OSError(101, "Network is unreachable")
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
    link = ucast_link(context, free_port())
    port = context.reactor.ports[0]
    port.protocol.datagramReceived(b"poison", ("127.0.0.2", 694))
    port.protocol.datagramReceived(b"poison", ("127.0.0.2", 694))
    port.protocol.datagramReceived(b"fine", ("127.0.0.2", 694))
    assert delivered == [(b"fine", "lo", ("127.0.0.2", 694))]
    assert port.protocol.receiver.errors == 2
    assert len(warnings) == 1
    assert port.listening
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
    assert context.reactor.ports == []
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
    assert len(context.reactor.ports) == 1
    first.stop()
    assert context.reactor.ports[0].listening
    second.stop()
    assert not context.reactor.ports[0].listening
    assert context.shared == {}
