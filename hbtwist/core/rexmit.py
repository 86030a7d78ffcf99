"""Receiver-initiated retransmission (NACK), both sides, without NACK implosion (spec section 5).

Sender side: answer `NS_rexmit` from the transmit history, byte-identically, at most once per
`max_rexmit_delay - 10` ms per number and at most 50 numbers per request; NAK what is gone.

Receiver side, per sender, with one timer per sender:
- Heartbeat-exact (towards real Heartbeat daemons): every missing number is asked for alone,
  first after a random 50..max_rexmit_delay ms, then every max_rexmit_delay ms.
- hbtwist (towards hbtwist peers): missing numbers are asked for as ranges; a request another
  receiver made for the same numbers (every request reaches every node) holds ours back for one
  interval, so a loss seen by N receivers costs about one request, not N.
Either way a number is asked for at most MAX_ATTEMPTS times; then it is reported lost.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from twisted.internet.interfaces import IDelayedCall, IReactorTime

from hbtwist.core.caps import MAX_ATTEMPTS, MAX_NAK_MEMORY, MAX_REXMIT_BATCH
from hbtwist.core.history import TransmitHistory
from hbtwist.core.stats import RexmitCounts
from hbtwist.wire import Message

FIRST_DELAY_FLOOR_MS = 50


@dataclass
class Wanted:
    """One missing number: when it may next be asked for and how often it was."""

    due: float
    attempts: int = 0


@dataclass
class SenderGaps:
    """What is missing from one sender, and its timer."""

    exact: bool
    wanted: dict[int, Wanted] = field(default_factory=dict)
    timer: IDelayedCall | None = None


LostCallback = Callable[[str, int, int, str], None]
"""(sender, first, last, reason): numbers `first..last` from `sender` are given up."""


class Retransmission:
    """NACK repair for one node: answering requests and asking for what it missed."""

    def __init__(
        self,
        *,
        clock: IReactorTime,
        history: TransmitHistory,
        counts: RexmitCounts,
        send: Callable[[Message], object],
        resend: Callable[[Message], None],
        on_lost: LostCallback,
        is_alive: Callable[[str], bool],
        max_delay_ms: int = 250,
        rng: random.Random | None = None,
    ) -> None:
        self._clock = clock
        self._history = history
        self._counts = counts
        self._send = send
        self._resend = resend
        self._on_lost = on_lost
        self._is_alive = is_alive
        self._interval = max_delay_ms / 1000.0
        self._guard = max(0, max_delay_ms - 10) / 1000.0
        self._rng = rng or random.Random()
        self._senders: dict[str, SenderGaps] = {}
        self._naked: OrderedDict[tuple[str, int], float] = OrderedDict()
        """When each (requester, number) was last refused, oldest first, for the NAK guard."""

    # Sender side

    def answer(self, requester: str, acknowledged: int, first: int, last: int) -> None:
        """Resend what `requester` asks for from history, or NAK what is gone (spec 5.3)."""
        self._counts.requests_received += 1
        last = min(last or first, first + MAX_REXMIT_BATCH - 1, self._history.highest)
        now = self._clock.seconds()
        for seq in range(max(first, acknowledged + 1), last + 1):
            sent = self._history.get(seq)
            if sent is None:
                if not self._may_refuse(requester, seq, now):
                    self._counts.suppressed += 1
                    continue
                reason = "seqno too low" if seq < self._history.lowest else "seqno not found"
                self._send(
                    Message.of(
                        ("t", "NS_nak_rexmit"),
                        ("firstseq", f"{seq:x}"),
                        ("dest", requester),
                        ("info", reason),
                    )
                )
                self._counts.naks_sent += 1
            elif sent.last_resent is not None and now - sent.last_resent < self._guard:
                self._counts.suppressed += 1
            else:
                sent.last_resent = now
                self._counts.answered += 1
                self._resend(sent.message)

    def _may_refuse(self, requester: str, seq: int, now: float) -> bool:
        """Whether a NAK for `seq` may go to `requester`: at most one per guard interval, as for
        retransmissions, so repeated or duplicated requests cannot multiply the NAKs."""
        while self._naked and (
            len(self._naked) >= MAX_NAK_MEMORY or now - next(iter(self._naked.values())) >= self._guard
        ):
            self._naked.popitem(last=False)
        key = (requester, seq)
        if key in self._naked:
            return False
        self._naked[key] = now
        return True

    # Receiver side

    def missing(self, sender: str, first: int, last: int, *, exact: bool) -> None:
        """Numbers `first..last` from `sender` were found missing: schedule requests."""
        gaps = self._senders.setdefault(sender, SenderGaps(exact))
        gaps.exact = exact
        now = self._clock.seconds()
        shared_due = now + self._first_delay()
        for seq in range(first, last + 1):
            due = now + self._first_delay() if exact else shared_due
            gaps.wanted.setdefault(seq, Wanted(due))
        self._schedule(sender, gaps)

    def arrived(self, sender: str, seq: int) -> None:
        """A missing number arrived: stop asking for it."""
        gaps = self._senders.get(sender)
        if gaps is not None and gaps.wanted.pop(seq, None) is not None:
            self._schedule(sender, gaps)

    def abandon(self, sender: str, numbers: Iterable[int]) -> None:
        """Stop asking for `numbers` from `sender` (given up elsewhere; nothing is reported)."""
        gaps = self._senders.get(sender)
        if gaps is None:
            return
        removed = [gaps.wanted.pop(seq, None) for seq in numbers]
        if any(entry is not None for entry in removed):
            self._schedule(sender, gaps)

    def refused(self, sender: str, seq: int) -> None:
        """The sender answered that it cannot resend `seq` (NS_nak_rexmit)."""
        gaps = self._senders.get(sender)
        if gaps is not None and gaps.wanted.pop(seq, None) is not None:
            self._schedule(sender, gaps)
            self._on_lost(sender, seq, seq, "sender cannot resend it")

    def overheard(self, sender: str, first: int, last: int) -> None:
        """Another receiver asked `sender` for `first..last`: hold back our own requests."""
        gaps = self._senders.get(sender)
        if gaps is None or gaps.exact:
            return
        hold_until = self._clock.seconds() + self._interval
        resume = hold_until + self._rng.uniform(0, self._interval / 2)
        held = 0
        for seq in range(first, min(last, first + MAX_REXMIT_BATCH - 1) + 1):
            wanted = gaps.wanted.get(seq)
            if wanted is not None and wanted.due < hold_until:
                wanted.due = resume
                held += 1
        if held:
            self._counts.requests_held += held
            self._schedule(sender, gaps)

    def forget(self, sender: str, reason: str) -> None:
        """The sender died or restarted: stop asking, and report what never came as lost."""
        gaps = self._senders.pop(sender, None)
        if gaps is None:
            return
        if gaps.timer is not None and gaps.timer.active():
            gaps.timer.cancel()
        for first, last in runs(sorted(gaps.wanted)):
            self._on_lost(sender, first, last, reason)

    def stop(self) -> None:
        """Cancel every timer (the node is stopping); nothing is reported."""
        for gaps in self._senders.values():
            if gaps.timer is not None and gaps.timer.active():
                gaps.timer.cancel()
        self._senders.clear()

    def pending(self) -> int:
        """How many numbers are being asked for, over all senders."""
        return sum(len(gaps.wanted) for gaps in self._senders.values())

    def _first_delay(self) -> float:
        """Heartbeat's first wait: uniform in [50 ms, max_rexmit_delay] ([0, max] below 100 ms)."""
        ceiling = self._interval
        floor = FIRST_DELAY_FLOOR_MS / 1000.0 if ceiling >= 0.1 else 0.0
        return self._rng.uniform(floor, ceiling)

    def _schedule(self, sender: str, gaps: SenderGaps) -> None:
        if gaps.timer is not None and gaps.timer.active():
            gaps.timer.cancel()
        gaps.timer = None
        if not gaps.wanted:
            return
        delay = max(0.0, min(w.due for w in gaps.wanted.values()) - self._clock.seconds())
        gaps.timer = self._clock.callLater(delay, self._fire, sender)

    def _fire(self, sender: str) -> None:
        gaps = self._senders[sender]
        gaps.timer = None
        now = self._clock.seconds()
        due = sorted(seq for seq, wanted in gaps.wanted.items() if wanted.due <= now)
        exhausted = [seq for seq in due if gaps.wanted[seq].attempts >= MAX_ATTEMPTS]
        for seq in exhausted:
            del gaps.wanted[seq]
        due = [seq for seq in due if seq in gaps.wanted]
        if due and self._is_alive(sender):
            requests = [(seq, seq) for seq in due] if gaps.exact else runs(due)
            for first, last in requests:
                self._request(sender, first, last)
        jitter = 0.0 if gaps.exact else self._rng.uniform(0, self._interval / 4)
        for seq in due:
            wanted = gaps.wanted[seq]
            wanted.attempts += 1
            wanted.due = now + self._interval + jitter
        self._schedule(sender, gaps)
        for first, last in runs(exhausted):
            self._on_lost(sender, first, last, "no retransmission after repeated requests")

    def _request(self, sender: str, first: int, last: int) -> None:
        self._counts.requests_sent += 1
        self._send(
            Message.of(
                ("t", "NS_rexmit"),
                ("dest", sender),
                ("firstseq", str(first)),
                ("lastseq", str(last)),
            )
        )


def runs(numbers: Sequence[int]) -> list[tuple[int, int]]:
    """Sorted numbers as (first, last) runs of consecutive numbers, each at most a batch long."""
    runs: list[tuple[int, int]] = []
    for seq in numbers:
        if runs and seq == runs[-1][1] + 1 and seq - runs[-1][0] < MAX_REXMIT_BATCH:
            runs[-1] = (runs[-1][0], seq)
        else:
            runs.append((seq, seq))
    return runs
