"""A datagram socket that the reactor watches for reading and that sends with a plain `sendto`.

Heartbeats make small datagrams many times a second; this is the least work per datagram that
the reactor allows: no per-read address conversion, no per-write address check, one read per
wakeup while the node is quiet, and one non-blocking read after another until the socket is
empty (READS_PER_WAKEUP at most) while it is busy (`hbtwist.media.pacing`).
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

from twisted.internet.interfaces import IReactorFDSet, IReadDescriptor
from twisted.python.failure import Failure
from zope.interface import implementer

from hbtwist.media.pacing import ReadPacer

READS_PER_WAKEUP = 1000
"""The most datagrams read in one turn of the event loop: more than the kernel's default
receive buffer holds, so a node that fell behind (32 nodes starting at once on two CPUs) empties
its sockets at every turn and the kernel drops nothing; reading fewer per turn than arrive made
the sockets overflow, and the lost packets' retransmission requests fed the overload. The bound
keeps a flood of hostile datagrams from holding the timers back for ever."""


@implementer(IReadDescriptor)
class DatagramSocket:
    """Hands each datagram read from `sock` to `receive(data, address)` while started."""

    def __init__(
        self,
        reactor: IReactorFDSet,
        sock: socket.socket,
        receive: Callable[[bytes, Any], None],
        max_size: int,
        pacer: ReadPacer | None = None,
    ) -> None:
        """With a `pacer`, a busy socket is read on its beat (`hbtwist.media.pacing`)."""
        self.socket = sock
        self.read_errors = 0
        """Reads that failed with an error other than `nothing to read`."""
        self._reactor = reactor
        self._receive = receive
        self._max_size = max_size
        self._fileno = sock.fileno()
        self._pacer = pacer
        self._watched = False

    def start(self) -> None:
        """Have the reactor read the socket (or its pacer, while the node is busy)."""
        if self._pacer is None:
            self.watch()
        else:
            self._pacer.add(self)

    def close(self) -> None:
        """Stop reading and close the socket."""
        if self._fileno >= 0:
            if self._pacer is not None:
                self._pacer.remove(self)
            self.unwatch()
            self._fileno = -1
            self.socket.close()

    def watch(self) -> None:
        """Have the reactor read the socket as soon as a datagram arrives."""
        if not self._watched and self._fileno >= 0:
            self._reactor.addReader(self)
            self._watched = True

    def unwatch(self) -> None:
        """Stop the reactor from reading the socket."""
        if self._watched:
            self._reactor.removeReader(self)
            self._watched = False

    def send(self, data: bytes, address: Any) -> None:
        """Send one datagram; OSError when the kernel refuses it."""
        self.socket.sendto(data, address)

    def fileno(self) -> int:
        """The socket's descriptor (-1 once closed)."""
        return self._fileno

    def doRead(self) -> None:  # noqa: N802
        """Read one datagram and tell the pacer, or without a pacer read up to READS_PER_WAKEUP.

        The reactor watches the socket level-triggered, so a datagram left waiting wakes it
        again at once, and a pacer has the socket read in bulk once datagrams come faster than
        one per beat. A quiet node's wakeup then ends without a read that finds nothing."""
        if self._pacer is None:
            self.drain()
        else:
            self._pacer.read(self.drain(1))

    def drain(self, most: int | None = None) -> int:
        """Read what has arrived, up to `most` datagrams (READS_PER_WAKEUP); how many were read."""
        if self._fileno < 0:
            return 0
        recvfrom, size, receive = self.socket.recvfrom, self._max_size, self._receive
        received = 0
        for _ in range(READS_PER_WAKEUP if most is None else most):
            try:
                data, address = recvfrom(size)
            except (BlockingIOError, InterruptedError):
                break
            except ConnectionRefusedError:
                continue
            except OSError:
                self.read_errors += 1
                break
            receive(data, address)
            received += 1
        return received

    def connectionLost(self, reason: Failure) -> None:  # noqa: N802
        """The reactor gave the socket up: close it."""
        self.close()

    def logPrefix(self) -> str:  # noqa: N802
        """How the reactor names this socket in its log."""
        return "DatagramSocket"
