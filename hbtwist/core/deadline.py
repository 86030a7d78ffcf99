"""A resettable timeout on an injected clock that knows how late it fired."""

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

    @property
    def armed(self) -> bool:
        """Whether the deadline is pending."""
        return self._call is not None

    def arm(self, delay: float) -> None:
        """(Re)start the countdown: expire `delay` seconds from now."""
        self.due = self._clock.seconds() + delay
        if self._call is None:
            self._call = self._clock.callLater(delay, self._fire)
        else:
            self._call.reset(delay)

    def cancel(self) -> None:
        """Stop the countdown if it is pending."""
        if self._call is not None:
            self._call.cancel()
            self._call = None

    def _fire(self) -> None:
        self._call = None
        self._on_expiry(max(0.0, self._clock.seconds() - self.due))
