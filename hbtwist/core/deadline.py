"""A resettable timeout on an injected clock that knows how late it fired.

Deadlines are pushed back far more often than they expire: every status received re-arms its
sender's and its link's. So a re-arm for later only records the new due time; the pending call
keeps its time, and when it comes it sleeps again until the due time if that moved on. Only an
earlier due time moves the pending call.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.interfaces import IDelayedCall, IReactorTime


class Deadline:
    """Calls `on_expiry(lateness_seconds)` once the armed delay passes without a re-arm."""

    def __init__(self, clock: IReactorTime, on_expiry: Callable[[float], None]) -> None:
        self._clock = clock
        self._on_expiry = on_expiry
        self._call: IDelayedCall | None = None
        self.due = 0.0
        self._scheduled = 0.0
        """When the pending call is to come (at or before `due`)."""

    @property
    def armed(self) -> bool:
        """Whether the deadline is pending."""
        return self._call is not None

    def arm(self, delay: float) -> None:
        """(Re)start the countdown: expire `delay` seconds from now."""
        due = self.due = self._clock.seconds() + delay
        if self._call is None:
            self._call = self._clock.callLater(delay, self._fire)
            self._scheduled = due
        elif due < self._scheduled:
            self._call.reset(delay)
            self._scheduled = due

    def cancel(self) -> None:
        """Stop the countdown if it is pending."""
        if self._call is not None:
            self._call.cancel()
            self._call = None

    def _fire(self) -> None:
        now = self._clock.seconds()
        if now < self.due:
            self._call = self._clock.callLater(self.due - now, self._fire)
            self._scheduled = self.due
            return
        self._call = None
        self._on_expiry(now - self.due)
