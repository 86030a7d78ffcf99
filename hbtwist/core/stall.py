"""Own-stall detection: a timer that fires far too late means this node, not a peer, was stuck.

Silence heard through a stall proves nothing: the packets may wait unread, or, when the whole
machine was held (a virtual machine's CPU quota, a paused process), the peer may have been held
too. A verdict on a silent peer therefore waits until this node has run without a stall for a
whole deadtime.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.interfaces import IReactorTime

from hbtwist.core import events

LONGEST_UNNOTICED_STALL_SECONDS = 0.05
"""Lateness up to this (or up to a keepalive, or a third of the deadtime when that is less) is
scheduling noise, not a stall."""


class StallDetector:
    """Judges timer lateness, remembers the last stall and reports one per grace period."""

    def __init__(
        self,
        clock: IReactorTime,
        keepalive_seconds: float,
        report: Callable[[events.Event], None],
        deadtime_seconds: float | None = None,
    ) -> None:
        self._clock = clock
        self._keepalive = keepalive_seconds
        self._report = report
        deadtime = 3 * LONGEST_UNNOTICED_STALL_SECONDS if deadtime_seconds is None else deadtime_seconds
        self.threshold = max(keepalive_seconds, min(LONGEST_UNNOTICED_STALL_SECONDS, deadtime / 3))
        """A timer later than this shows a stall of this node."""
        self._reported_until = 0.0
        self._last_stall_end: float | None = None

    @property
    def grace(self) -> float:
        """How long a verdict is deferred after a stall: two keepalives."""
        return 2 * self._keepalive

    def stalled(self, lateness: float) -> bool:
        """Whether a timer that fired `lateness` seconds late shows a stall of this node."""
        if lateness <= self.threshold:
            return False
        now = self._clock.seconds()
        self._last_stall_end = now
        if now >= self._reported_until:
            self._report(events.LocalStall(round(lateness * 1000)))
            self._reported_until = now + self.grace
        return True

    def stalled_within(self, seconds: float) -> bool:
        """Whether this node was stalled at some moment of the last `seconds`."""
        if self._last_stall_end is None:
            return False
        return self._clock.seconds() - self._last_stall_end < seconds
