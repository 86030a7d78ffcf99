"""Leading runs: the elements a message shares with the messages its sender sent before.

A node's statuses differ only from the sequence number on: the type, status, deadtime, name
and UUID before it come out the same each time. The netstring decoder remembers such a leading
run (`###\n` and the elements before the first one its element memo did not know) once it has
met it twice, and takes a remembered run whole, so those elements are neither walked nor looked
up again. A run is a pure function of its bytes, so a remembered one gives exactly the fields a
fresh parse would. A run met once (one that reached past a sequence number another node also
sent) is only a candidate: it is learned when it comes again.
"""

from __future__ import annotations

from hbtwist.wire.memo import keep
from hbtwist.wire.message import Field

MIN_RUN = 3
"""Elements a leading run needs to be worth remembering."""
LENGTHS_LIMIT = 8
"""Distinct run lengths tried against a message, the longest first."""


class LeadingRuns:
    """The leading runs of messages received lately and their fields."""

    def __init__(self, opening: bytes) -> None:
        """`opening`: what every message starts with (`###\\n`), the shortest run there is."""
        self.runs: dict[bytes, tuple[Field, ...]] = {}
        self.candidates: dict[bytes, None] = {}
        self.lengths: dict[int, None] = {}
        """The lengths of the runs, the least recently learned first."""
        self.probes: list[int] = []
        """The same lengths, the longest first: the order they are tried in."""
        self._opening = len(opening)

    def take(self, data: bytes, start: int) -> tuple[list[Field], int]:
        """The fields of the remembered run that `data` begins with at `start` (none if no run
        fits), and the offset just past it (or past the opening)."""
        runs = self.runs
        for length in self.probes:
            run = runs.get(data[start : start + length])
            if run is not None:
                return list(run), start + length
        return [], start + self._opening

    def met(self, data: bytes, start: int, stop: int, fields: list[Field]) -> None:
        """`data[start:stop]` (opening and elements) parsed from memo into `fields`, and the
        element at `stop` was new: learn it as a run if it was met before."""
        if len(fields) < MIN_RUN:
            return
        run = data[start:stop]
        if run not in self.candidates:
            keep(self.candidates, run, None)
            return
        keep(self.runs, run, tuple(fields))
        length = stop - start
        lengths = self.lengths
        lengths.pop(length, None)
        lengths[length] = None
        if len(lengths) > LENGTHS_LIMIT:
            del lengths[next(iter(lengths))]
        self.probes = sorted(lengths, reverse=True)

    def clear(self) -> None:
        """Forget every run and candidate."""
        self.runs.clear()
        self.candidates.clear()
        self.lengths.clear()
        self.probes = []
