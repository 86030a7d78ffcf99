"""Own-stall detection: a timer that fires far too late means this node, not a peer, was stuck."""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.interfaces import IReactorTime

from hbtwist.core import events

MIN_STALL_SECONDS = 0.05


class StallDetector:
    """Judges timer lateness against the keepalive and reports a stall once per grace period."""

    def __init__(
        self, clock: IReactorTime, keepalive_seconds: float, report: Callable[[events.Event], None]
    ) -> None:
        self._clock = clock
        self._keepalive = keepalive_seconds
        self._report = report
        self._reported_until = 0.0

    @property
    def grace(self) -> float:
        """How long a verdict is deferred after a stall: two keepalives."""
        return 2 * self._keepalive

    def stalled(self, lateness: float) -> bool:
        """Whether a timer that fired `lateness` seconds late shows a stall of this node."""
        if lateness <= max(MIN_STALL_SECONDS, self._keepalive):
            return False
        now = self._clock.seconds()
        if now >= self._reported_until:
            self._report(events.LocalStall(round(lateness * 1000)))
            self._reported_until = now + self.grace
        return True
