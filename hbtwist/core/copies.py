"""The repeated copies of each status: sent while packets are being lost, not on a clean network.

Each status goes out `most` times per keepalive, evenly spread, for COPIES_HOLD_S after the last
sign of loss, and once otherwise. Signs of loss: a gap in a peer's sequence numbers, a node asking
for a retransmission, a link declared dead. A late heartbeat is not one: without a gap it means a
stalled sender or receiver, which copies would only load further. On a clean network a node then
sends and receives what Heartbeat 3.0.6 does; once loss shows, the copies keep a deadtime's chances
of hearing a live peer as doc/detection.md counts them.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.interfaces import IReactorTime

from hbtwist.core.deadline import Deadline

COPIES_HOLD_S = 600.0
"""How long copies are sent after the last sign of loss: long enough that under steady loss, even
10 % where a status is lost on every copy once in 10,000, the copies never lapse."""


class HeartbeatCopies:
    """Schedules `repeat()` calls after each status: `most - 1` of them while loss is recent."""

    def __init__(self, clock: IReactorTime, most: int, repeat: Callable[[], None]) -> None:
        self.most = max(1, most)
        self._clock = clock
        self._repeat = repeat
        self._until = float("-inf")
        self._left = 0
        self._interval = 0.0
        self._timer = Deadline(clock, self._due)

    @property
    def active(self) -> bool:
        """Whether statuses are sent `most` times now (loss was seen lately)."""
        return self.most > 1 and self._clock.seconds() < self._until

    def loss_seen(self) -> None:
        """Packets are being lost: send the copies for the next COPIES_HOLD_S."""
        self._until = self._clock.seconds() + COPIES_HOLD_S

    def status_sent(self, keepalive_s: float) -> None:
        """A new status went out: schedule its copies over the keepalive (none if not active)."""
        copies = self.most if self.active else 1
        self._left = copies - 1
        self._interval = keepalive_s / copies
        if self._left:
            self._timer.arm(self._interval)
        else:
            self._timer.cancel()

    def stop(self) -> None:
        """Send no more copies."""
        self._timer.cancel()

    def _due(self, lateness: float) -> None:
        self._repeat()
        self._left -= 1
        if self._left > 0:
            self._timer.arm(self._interval)
