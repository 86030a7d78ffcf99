"""Per-sender receive sequence tracking: in order, duplicate, old, or a gap (spec section 4.3)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from hbtwist.core.caps import MAX_MISSING, MAX_RECOVERABLE_GAP


class Verdict(enum.Enum):
    """What to do with a sequenced message."""

    ACCEPT = "accept"
    DUPLICATE = "duplicate"
    OLD = "old"


@dataclass(frozen=True)
class Observation:
    """The verdict on one sequence number, and what it revealed."""

    verdict: Verdict
    lost: tuple[int, int] | None = None
    resynchronised: bool = False
    recovered: bool = False
    evicted: tuple[int, ...] = ()
    """Missing numbers forgotten (the oldest beyond MAX_MISSING, or all on resynchronising):
    they are given up."""


NEXT = Observation(Verdict.ACCEPT)
"""The verdict on the number after the last, nothing else revealed (the common case, shared)."""
SAME = Observation(Verdict.DUPLICATE)
"""The verdict on the last number again (shared)."""
STALE = Observation(Verdict.OLD)
"""The verdict on a number below the last that is not missing (shared)."""


class SequenceTracker:
    """Remembers the last sequence number of one sender and the numbers still missing."""

    def __init__(self) -> None:
        self.last_seq: int | None = None
        self.missing: dict[int, None] = {}

    def reset(self, last_seq: int | None = None) -> None:
        """Forget everything (sender restarted, declared dead, or resynchronised)."""
        self.last_seq = last_seq
        self.missing.clear()

    def contiguous(self) -> int | None:
        """The highest number up to which nothing is missing."""
        if self.last_seq is None:
            return None
        if self.missing:
            return min(self.missing) - 1
        return self.last_seq

    def observe(self, seq: int) -> Observation:
        """Classify `seq` and update the tracking state."""
        last = self.last_seq
        if last is None or seq == last + 1:
            self.last_seq = seq
            return NEXT
        if seq == last:
            return SAME
        if seq > last:
            first_lost, last_lost = last + 1, seq - 1
            self.last_seq = seq
            if last_lost - first_lost + 1 > MAX_RECOVERABLE_GAP:
                abandoned = tuple(self.missing)
                self.missing.clear()
                return Observation(
                    Verdict.ACCEPT, (first_lost, last_lost), resynchronised=True, evicted=abandoned
                )
            for number in range(first_lost, last_lost + 1):
                self.missing[number] = None
            evicted = []
            while len(self.missing) > MAX_MISSING:
                oldest = next(iter(self.missing))
                del self.missing[oldest]
                evicted.append(oldest)
            return Observation(Verdict.ACCEPT, (first_lost, last_lost), evicted=tuple(evicted))
        if seq in self.missing:
            del self.missing[seq]
            return Observation(Verdict.ACCEPT, recovered=True)
        return STALE
