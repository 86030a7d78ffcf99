"""Busy sockets are read on a beat, idle ones at every arrival, and the switch between the two
neither loses nor strands a datagram."""

from __future__ import annotations

import socket

import pytest
from twisted.internet.task import Clock

from hbtwist.core.timing import READ_BEATS_PER_KEEPALIVE
from hbtwist.media.dgram import DatagramSocket
from hbtwist.media.pacing import PACED_ARRIVALS, UNPACED_ARRIVALS, ReadPacer
from tests.unit.test_media_udp import FakeReaderReactor

KEEPALIVE = 1.25
BEAT = KEEPALIVE / READ_BEATS_PER_KEEPALIVE
"""1/8 s: exact in binary, so a keepalive of beats ends exactly on a window's end."""


class FakeReader:
    """A socket with `waiting` datagrams queued, watched or not by a reactor."""

    def __init__(self) -> None:
        self.waiting = 0
        self.read = 0
        self.watched = False

    def drain(self) -> int:
        count, self.waiting = self.waiting, 0
        self.read += count
        return count

    def watch(self) -> None:
        self.watched = True

    def unwatch(self) -> None:
        self.watched = False


def _arrive(pacer: ReadPacer, reader: FakeReader, count: int) -> None:
    """`count` datagrams arrive; a watched socket wakes the reactor at once and is read."""
    reader.waiting += count
    if reader.watched:
        pacer.read(reader.drain())


def test_a_quiet_node_reads_each_datagram_at_once() -> None:
    """Below PACED_ARRIVALS per keepalive the socket stays watched and nothing is scheduled."""
    clock, reader = Clock(), FakeReader()
    pacer = ReadPacer(clock, KEEPALIVE)
    pacer.add(reader)
    arrivals = 3 * PACED_ARRIVALS
    for _ in range(arrivals):
        _arrive(pacer, reader, 1)
        clock.advance(KEEPALIVE / (PACED_ARRIVALS - 2))
    assert reader.watched and not pacer.paced and clock.getDelayedCalls() == []
    assert reader.read == arrivals


def test_a_busy_node_reads_on_the_beat_and_no_datagram_waits_longer() -> None:
    """Once PACED_ARRIVALS come within a keepalive, every socket is unwatched and read together
    once per beat: what arrives is read by the next beat, not at once."""
    clock, first, second = Clock(), FakeReader(), FakeReader()
    pacer = ReadPacer(clock, KEEPALIVE)
    pacer.add(first)
    pacer.add(second)
    for _ in range(PACED_ARRIVALS):
        _arrive(pacer, first, 1)
    assert pacer.paced and not first.watched and not second.watched
    _arrive(pacer, first, 2)
    _arrive(pacer, second, 3)
    assert (first.waiting, second.waiting) == (2, 3)
    clock.advance(BEAT)
    assert (first.waiting, second.waiting) == (0, 0)
    assert first.read == PACED_ARRIVALS + 2 and second.read == 3
    pacer.remove(first)
    pacer.remove(second)


def _paced_keepalive(clock: Clock, pacer: ReadPacer, reader: FakeReader, arrivals: int) -> None:
    """One keepalive of beats while paced, `arrivals` datagrams arriving before its first."""
    _arrive(pacer, reader, arrivals)
    for _ in range(READ_BEATS_PER_KEEPALIVE):
        clock.advance(BEAT)


def test_pacing_ends_when_datagrams_slow_down_and_nothing_is_stranded() -> None:
    """Paced, a keepalive with UNPACED_ARRIVALS datagrams keeps the beat and one with fewer
    ends it: the sockets are watched again, no beat is left, and everything was read."""
    clock, reader = Clock(), FakeReader()
    pacer = ReadPacer(clock, KEEPALIVE)
    pacer.add(reader)
    for _ in range(PACED_ARRIVALS):
        _arrive(pacer, reader, 1)
    _paced_keepalive(clock, pacer, reader, 0)
    _paced_keepalive(clock, pacer, reader, UNPACED_ARRIVALS)
    assert pacer.paced and not reader.watched
    _paced_keepalive(clock, pacer, reader, UNPACED_ARRIVALS - 1)
    assert reader.watched and not pacer.paced and clock.getDelayedCalls() == []
    assert reader.waiting == 0 and reader.read == PACED_ARRIVALS + 2 * UNPACED_ARRIVALS - 1


def test_closing_the_last_socket_stops_the_beat() -> None:
    """A paced socket that closes is unwatched and dropped; with none left, no beat remains."""
    clock, reader = Clock(), FakeReader()
    pacer = ReadPacer(clock, KEEPALIVE)
    pacer.add(reader)
    for _ in range(PACED_ARRIVALS):
        _arrive(pacer, reader, 1)
    pacer.remove(reader)
    assert not pacer.paced and clock.getDelayedCalls() == [] and not reader.watched


def _paced_socket(
    reactor: FakeReaderReactor, pacer: ReadPacer, received: list[bytes]
) -> tuple[DatagramSocket, socket.socket, tuple[str, int]]:
    """A started DatagramSocket under `pacer` on a loopback port, recording what it reads; a
    socket to send to it, and its address."""
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.setblocking(False)
    reader = DatagramSocket(reactor, receiver, lambda data, _: received.append(data), 2048, pacer)
    reader.start()
    return reader, socket.socket(socket.AF_INET, socket.SOCK_DGRAM), receiver.getsockname()


def test_datagram_socket_reports_its_reads_and_is_drained_on_the_beat() -> None:
    """A real socket under a pacer: read at once while quiet, unwatched once busy, its datagrams
    then read on the beat and delivered in order; closing it leaves no beat behind."""
    clock, reactor = Clock(), FakeReaderReactor()
    pacer = ReadPacer(clock, KEEPALIVE)
    received: list[bytes] = []
    reader, sender, address = _paced_socket(reactor, pacer, received)
    for number in range(PACED_ARRIVALS):
        sender.sendto(b"%d" % number, address)
        assert reader in reactor.reading
        reader.doRead()
    assert reader not in reactor.reading and pacer.paced
    sender.sendto(b"late", address)
    clock.advance(BEAT)
    assert received == [b"%d" % number for number in range(PACED_ARRIVALS)] + [b"late"]
    reader.close()
    sender.close()
    assert clock.getDelayedCalls() == [] and reader not in reactor.reading


def test_a_socket_that_fails_to_drain_leaves_the_beat_going() -> None:
    """If reading a socket on the beat raises, the next beat is still due, so the sockets are
    never left unwatched and unread."""
    clock, reader = Clock(), FakeReader()
    pacer = ReadPacer(clock, KEEPALIVE)
    pacer.add(reader)
    for _ in range(PACED_ARRIVALS):
        _arrive(pacer, reader, 1)

    def broken() -> int:
        raise RuntimeError("broken socket")

    reader.drain = broken  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        clock.advance(BEAT)
    assert pacer.paced and len(clock.getDelayedCalls()) == 1
    pacer.remove(reader)


def test_a_watched_socket_reads_one_datagram_per_wakeup() -> None:
    """While quiet, each wakeup reads one datagram and counts it; the ones left waiting are read,
    in order, by the wakeups the level-triggered reactor makes for them."""
    reactor = FakeReaderReactor()
    pacer = ReadPacer(Clock(), KEEPALIVE)
    received: list[bytes] = []
    reader, sender, address = _paced_socket(reactor, pacer, received)
    for number in range(3):
        sender.sendto(b"%d" % number, address)
    reader.doRead()
    assert received == [b"0"]
    reader.doRead()
    reader.doRead()
    assert received == [b"0", b"1", b"2"] and reader in reactor.reading and not pacer.paced
    reader.close()
    sender.close()
