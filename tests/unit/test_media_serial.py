"""The serial medium: reopening after a loss, bounded writes, and receives that never drop it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from twisted.internet.testing import MemoryReactorClock

from hbtwist.config import SerialMedium
from hbtwist.media.interface import IMediumLink, MediumContext, Outgoing
from hbtwist.media.serial import FIRST_RETRY_SECONDS, WRITE_BUFFER_LIMIT, FrameReceiver, SerialLink
from hbtwist.wire import AuthKey, AuthMethod, Keyring, Message, encode_datagram

KEYRING = Keyring(1, {1: AuthKey(1, AuthMethod.SHA1, b"secret")})
FRAME = b">>>\nt=status\nsrc=beta\n<<<\n"


def outgoing() -> Outgoing:
    """One signed message ready to send."""
    message = Message.of(("t", "status"), ("src", "alpha"), ("pad", "x" * 200))
    return Outgoing(message, encode_datagram(message, KEYRING), KEYRING)


class FakeSerialPort:
    """A serial port that records what is written and whether it was closed."""

    def __init__(self, protocol: FrameReceiver) -> None:
        self.protocol = protocol
        self.written: list[bytes] = []
        self.closed = False
        self.producer: Any = None

    def write(self, data: bytes) -> None:
        """Record the frame."""
        self.written.append(data)

    def registerProducer(self, producer: Any, streaming: bool) -> None:  # noqa: N802
        """Remember the producer."""
        self.producer = producer

    def loseConnection(self) -> None:  # noqa: N802
        """Close (the loss notice comes later, as with a real port)."""
        self.closed = True


class PortOpener:
    """Opens fake ports, keeping every one."""

    def __init__(self) -> None:
        self.ports: list[FakeSerialPort] = []

    def __call__(
        self, protocol: FrameReceiver, device: str, reactor: Any, baudrate: int
    ) -> FakeSerialPort:
        port = FakeSerialPort(protocol)
        self.ports.append(port)
        return port


@pytest.fixture
def delivered() -> list[bytes]:
    """Frames the fake daemon took."""
    return []


@pytest.fixture
def context(delivered: list[bytes]) -> MediumContext:
    """A context on a memory reactor with a clock; its deliver chokes on frames from `evil`."""

    def deliver(data: bytes, link: str, source: object) -> None:
        if b"src=evil" in data:
            raise RuntimeError("the daemon choked")
        delivered.append(data)

    return MediumContext(MemoryReactorClock(), deliver, "alpha")


def test_late_loss_of_a_replaced_port_is_ignored(context: MediumContext) -> None:
    """After a lost port was reopened, a late loss notice from the old port neither clears the
    new port nor schedules another reopen."""
    opener = PortOpener()
    link = SerialLink(SerialMedium("/dev/ttyFAKE", 19200), context, opener)
    link.start()
    old = opener.ports[0]
    old.protocol.connectionLost(None)
    context.reactor.advance(FIRST_RETRY_SECONDS)
    assert len(opener.ports) == 2
    old.protocol.connectionLost(None)
    assert context.reactor.getDelayedCalls() == []
    link.send(outgoing())
    assert opener.ports[1].written == [outgoing().frame]
    assert link.dropped_frames == 0


def test_loss_of_the_current_port_reopens(context: MediumContext) -> None:
    """Losing the open port drops frames meanwhile and reopens after the first back-off."""
    opener = PortOpener()
    link = SerialLink(SerialMedium("/dev/ttyFAKE", 19200), context, opener)
    link.start()
    opener.ports[0].protocol.connectionLost(None)
    link.send(outgoing())
    assert link.dropped_frames == 1
    context.reactor.advance(FIRST_RETRY_SECONDS)
    assert len(opener.ports) == 2
    assert opener.ports[1].producer is link


def test_stop_closes_and_never_reopens(context: MediumContext) -> None:
    """Stopping closes the port, and its loss notice then opens nothing."""
    opener = PortOpener()
    link = SerialLink(SerialMedium("/dev/ttyFAKE", 19200), context, opener)
    link.start()
    link.stop()
    opener.ports[0].protocol.connectionLost(None)
    assert opener.ports[0].closed
    assert context.reactor.getDelayedCalls() == []


def test_receive_exception_keeps_the_port(context: MediumContext, delivered: list[bytes]) -> None:
    """A frame the daemon chokes on is counted; the port stays open and later frames arrive."""
    opener = PortOpener()
    link = SerialLink(SerialMedium("/dev/ttyFAKE", 19200), context, opener)
    link.start()
    receiver = opener.ports[0].protocol
    receiver.dataReceived(b">>>\nt=status\nsrc=evil\n<<<\n" + FRAME)
    assert delivered == [FRAME]
    assert not opener.ports[0].closed
    assert link._receive.errors == 1


@pytest.fixture
def pty() -> Iterator[tuple[int, str]]:
    """A pseudo-terminal: (master fd, slave device path)."""
    master, slave = os.openpty()
    yield master, os.ttyname(slave)
    os.close(master)
    os.close(slave)


def buffered(port: Any) -> int:
    """Bytes a Twisted port holds unsent."""
    return len(port.dataBuffer) - port.offset + port._tempDataLen


def test_writes_are_bounded_when_the_port_cannot_keep_up(
    context: MediumContext, pty: tuple[int, str]
) -> None:
    """On a real tty nobody reads, frames beyond the write-buffer limit are dropped and counted
    (the buffer never grows past the limit and one frame); once drained, sending resumes."""
    master, device = pty
    link = SerialLink(SerialMedium(device, 19200), context)
    link.start()
    assert IMediumLink.providedBy(link)
    port = link._port
    frame = outgoing().frame
    for _ in range(2000):
        link.send(outgoing())
        port.doWrite()
        assert buffered(port) <= WRITE_BUFFER_LIMIT + len(frame)
    assert link.send_failures > 1000
    while buffered(port):
        os.read(master, 65536)
        port.doWrite()
    failures = link.send_failures
    link.send(outgoing())
    assert link.send_failures == failures
    assert buffered(port) == len(frame)
    link.stop()
