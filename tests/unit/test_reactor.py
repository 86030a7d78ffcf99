"""The daemon's reactor dispatches ready descriptors as Twisted's epoll reactor does, minus the
logging context, and never lets a failing descriptor stop the others."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from twisted.logger import LogEvent, globalLogPublisher
from twisted.python.failure import Failure

from hbtwist.daemon.reactor import HeartbeatReactor, install_if_unset
from hbtwist.media.dgram import DatagramSocket


class Reader:
    """A readable end of a socket pair that records what the reactor does with it."""

    def __init__(self, sock: socket.socket, fail: bool = False) -> None:
        self.sock = sock
        self.fail = fail
        self.read: list[bytes] = []
        self.lost: list[Failure] = []

    def fileno(self) -> int:
        return self.sock.fileno()

    def doRead(self) -> None:  # noqa: N802
        if self.fail:
            raise RuntimeError("broken reader")
        self.read.append(self.sock.recv(100))

    def connectionLost(self, reason: Failure) -> None:  # noqa: N802
        self.lost.append(reason)
        if self.fail:
            raise RuntimeError("broken close")

    def logPrefix(self) -> str:  # noqa: N802
        return "Reader"


@pytest.fixture
def reactor() -> Iterator[HeartbeatReactor]:
    """A HeartbeatReactor that is not the global one, closed after the test."""
    loop = HeartbeatReactor()
    yield loop
    loop._poller.close()


def _pair() -> tuple[socket.socket, socket.socket]:
    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    left.setblocking(False)
    return left, right


def _poll_logging_failures(reactor: HeartbeatReactor) -> list[str]:
    """Run one turn of `reactor`; the messages of the failures it logged."""
    logged: list[LogEvent] = []
    globalLogPublisher.addObserver(logged.append)
    try:
        reactor.doPoll(1.0)
    finally:
        globalLogPublisher.removeObserver(logged.append)
    return [str(event["log_failure"].value) for event in logged if "log_failure" in event]


def test_ready_reader_is_read(reactor: HeartbeatReactor) -> None:
    """A readable descriptor gets its doRead, with what was sent to it."""
    mine, peer = _pair()
    reader = Reader(mine)
    reactor.addReader(reader)
    peer.send(b"heartbeat")
    reactor.doPoll(1.0)
    assert reader.read == [b"heartbeat"]
    reactor.removeReader(reader)
    mine.close()
    peer.close()


def test_failing_reader_is_logged_and_others_still_read(reactor: HeartbeatReactor) -> None:
    """A doRead that raises ends that descriptor (connectionLost with the error), as in the
    epoll reactor; what the disconnection raises in turn is logged; and a second ready
    descriptor is still read in the same turn."""
    broken_end, broken_peer = _pair()
    good_end, good_peer = _pair()
    broken, good = Reader(broken_end, fail=True), Reader(good_end)
    reactor.addReader(broken)
    reactor.addReader(good)
    broken_peer.send(b"x")
    good_peer.send(b"y")
    assert _poll_logging_failures(reactor) == ["broken close"]
    assert [failure.type for failure in broken.lost] == [RuntimeError]
    assert good.read == [b"y"]
    reactor.removeAll()
    for end in (broken_end, broken_peer, good_end, good_peer):
        end.close()


def test_an_installed_reactor_is_kept() -> None:
    """Once a reactor is installed (here, by the test run), it is not replaced."""
    from twisted.internet import reactor

    assert install_if_unset() is False
    from twisted.internet import reactor as still

    assert still is reactor


def _datagram_socket(
    reactor: HeartbeatReactor, received: list[bytes]
) -> tuple[DatagramSocket, socket.socket]:
    """A DatagramSocket on the reactor recording what it reads, and a socket to write to it."""
    mine, peer = _pair()
    reader = DatagramSocket(reactor, mine, lambda data, _source: received.append(data), 2048)
    reader.start()
    return reader, peer


def test_a_readable_datagram_socket_is_read_directly(reactor: HeartbeatReactor) -> None:
    """A datagram socket that is readable gets its datagrams in one turn, read by its own doRead."""
    received: list[bytes] = []
    reader, peer = _datagram_socket(reactor, received)
    peer.send(b"status")
    peer.send(b"ack")
    reactor.doPoll(1.0)
    assert received == [b"status", b"ack"]
    reader.close()
    peer.close()


def test_a_datagram_socket_whose_read_raises_is_logged_and_closed(
    reactor: HeartbeatReactor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a datagram socket's doRead raises is logged, and the socket is closed and unwatched,
    as a failing descriptor is; a second socket is still read in the same turn."""
    broken, broken_peer = _datagram_socket(reactor, [])
    received: list[bytes] = []
    good, good_peer = _datagram_socket(reactor, received)

    def fail() -> None:
        raise RuntimeError("broken socket")

    monkeypatch.setattr(broken, "doRead", fail)
    broken_peer.send(b"x")
    good_peer.send(b"y")
    assert _poll_logging_failures(reactor) == ["broken socket"]
    assert broken.fileno() == -1 and broken not in reactor.getReaders()
    assert received == [b"y"]
    good.close()
    for end in (broken_peer, good_peer):
        end.close()
