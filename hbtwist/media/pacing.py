"""Reading a busy node's datagram sockets on a beat instead of at every arrival.

A node of a large cluster receives every peer's status through every medium: 63 datagrams per
keepalive at 32 nodes with two media, each arriving on its own and waking the process, whose
wakeups (not the datagrams) are most of its idle CPU. While datagrams come that fast, the
sockets are left unwatched and read together once per beat, a tenth of the keepalive: one
wakeup reads several, and none waits more than one beat. Below that rate nothing changes: the
reactor reads each socket as soon as a datagram arrives.
"""

from __future__ import annotations

from typing import Protocol

from twisted.internet.interfaces import IDelayedCall, IReactorTime

from hbtwist.core.timing import READ_BEATS_PER_KEEPALIVE

PACED_ARRIVALS = 20
"""Datagrams read within one keepalive that turn pacing on: more than one per beat."""

UNPACED_ARRIVALS = 10
"""Datagrams per keepalive below which pacing turns off again (the gap keeps it from flapping)."""


class PacedReader(Protocol):
    """A socket the pacer can read and have the reactor watch or not."""

    def drain(self) -> int:
        """Read what is waiting; how many datagrams that was."""

    def watch(self) -> None:
        """Have the reactor read the socket as soon as something arrives."""

    def unwatch(self) -> None:
        """Stop the reactor from reading the socket."""


class ReadPacer:
    """Counts the datagrams a node's sockets read per keepalive and reads them on a beat while
    they come at PACED_ARRIVALS or more."""

    def __init__(self, clock: IReactorTime, keepalive: float) -> None:
        """`keepalive` in seconds; the beat is READ_BEATS_PER_KEEPALIVE times shorter."""
        self._clock = clock
        self._keepalive = keepalive
        self._beat = keepalive / READ_BEATS_PER_KEEPALIVE
        self._readers: list[PacedReader] = []
        self._window_end = float("-inf")
        self._count = 0
        self._next_beat: IDelayedCall | None = None

    @property
    def paced(self) -> bool:
        """Whether the sockets are read on the beat now."""
        return self._next_beat is not None

    def add(self, reader: PacedReader) -> None:
        """Pace one more socket; it is watched unless the sockets are read on the beat."""
        self._readers.append(reader)
        if not self.paced:
            reader.watch()

    def remove(self, reader: PacedReader) -> None:
        """Pace the socket no more (it is closing); the beat stops with the last socket."""
        if reader in self._readers:
            self._readers.remove(reader)
        reader.unwatch()
        if not self._readers and self._next_beat is not None:
            self._next_beat.cancel()
            self._next_beat = None

    def read(self, count: int) -> None:
        """A watched socket woke the reactor and read `count` datagrams."""
        self._tally(count)
        if self._count >= PACED_ARRIVALS and self._next_beat is None:
            for reader in self._readers:
                reader.unwatch()
            self._next_beat = self._clock.callLater(self._beat, self._on_beat)

    def _on_beat(self) -> None:
        """Read every socket; the next beat is due first, so nothing raised here can leave the
        sockets unread."""
        self._next_beat = self._clock.callLater(self._beat, self._on_beat)
        ended = self._tally(sum(reader.drain() for reader in list(self._readers)))
        if self._next_beat is None or ended is None or ended >= UNPACED_ARRIVALS:
            return
        self._next_beat.cancel()
        self._next_beat = None
        for reader in self._readers:
            reader.watch()

    def _tally(self, count: int) -> int | None:
        """Count `count` datagrams; the count of the keepalive window this ended, if any."""
        now = self._clock.seconds()
        ended = None
        if now >= self._window_end:
            ended, self._count = self._count, 0
            self._window_end = now + self._keepalive
        self._count += count
        return ended
