"""The timers of ha.cf that drive membership."""

from __future__ import annotations

from dataclasses import dataclass

READ_BEATS_PER_KEEPALIVE = 10
"""How often per keepalive a busy node reads its sockets, all together, instead of at every
datagram: a datagram waits at most a tenth of the keepalive (100 ms at 1 s, 1 ms at 10 ms),
well inside any warntime. A verdict on a silent peer waits that long, so what such a node left
unread is read first."""


@dataclass(frozen=True)
class Timing:
    """The timers of ha.cf, in milliseconds."""

    keepalive_ms: int
    deadtime_ms: int
    warntime_ms: int
    initdead_ms: int
    deadping_ms: int = 0
    """The dead time of ping nodes; 0 means deadtime, Heartbeat's default."""

    @property
    def read_beat_s(self) -> float:
        """The longest a busy node leaves a datagram unread (`hbtwist.media.pacing`), seconds."""
        return self.keepalive_ms / 1000 / READ_BEATS_PER_KEEPALIVE

    @property
    def ping_deadtime_ms(self) -> int:
        """How long a ping node may stay silent before it is dead (`deadping`)."""
        return self.deadping_ms or self.deadtime_ms


HEARING_CHANCES = 18
"""How many chances to hear a live peer a deadtime should hold: a false death needs every one
lost, which at a loss rate p happens with probability p**18 (4e-10 at 30 %, 4e-6 at 50 %)."""
MAX_HEARTBEAT_COPIES = 4


def heartbeat_copies(timing: Timing, media: int) -> int:
    """How many times each status is sent per keepalive, evenly spread: the fewest (at most
    MAX_HEARTBEAT_COPIES) that give a deadtime HEARING_CHANCES chances, counting one per copy,
    medium and whole keepalive in the deadtime. Extra copies repeat the status as it was;
    receivers, Heartbeat 3.0.6 among them, take them for duplicates."""
    per_copy = max(1, media) * max(1, timing.deadtime_ms // timing.keepalive_ms)
    return min(MAX_HEARTBEAT_COPIES, -(-HEARING_CHANCES // per_copy))
