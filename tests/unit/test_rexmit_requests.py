"""The receiver side of retransmission: when and how requests are sent, held and given up."""

from __future__ import annotations

import random

from twisted.internet.task import Clock

from hbtwist.core.caps import MAX_ATTEMPTS
from hbtwist.core.history import TransmitHistory
from hbtwist.core.rexmit import Retransmission
from hbtwist.core.stats import RexmitCounts
from hbtwist.wire import Message


class _Harness:
    """A Retransmission on a task.Clock, recording what it sends and what it gives up."""

    def __init__(self, alive: bool = True) -> None:
        self.clock = Clock()
        self.sent: list[tuple[float, Message]] = []
        self.lost: list[tuple[str, int, int, str]] = []
        self.counts = RexmitCounts()
        self.rexmit = Retransmission(
            clock=self.clock,
            history=TransmitHistory(),
            counts=self.counts,
            send=lambda message: self.sent.append((self.clock.seconds(), message)),
            resend=lambda message: None,
            on_lost=lambda *lost: self.lost.append(lost),
            is_alive=lambda name: alive,
            rng=random.Random(2),
        )

    def ranges(self) -> list[tuple[str, str]]:
        return [(m.text("firstseq") or "", m.text("lastseq") or "") for _, m in self.sent]


def test_exact_mode_asks_for_each_number_alone_after_50_to_250_ms() -> None:
    """Towards Heartbeat, each missing number gets its own request, first after 50..250 ms."""
    harness = _Harness()
    harness.rexmit.missing("n1", 10, 12, exact=True)
    harness.clock.pump([0.01] * 25)
    assert sorted(harness.ranges()) == [("10", "10"), ("11", "11"), ("12", "12")]
    assert all(0.05 <= moment <= 0.25 for moment, _ in harness.sent)
    assert all(m.text("dest") == "n1" for _, m in harness.sent)
    for seq in (10, 11, 12):
        harness.rexmit.arrived("n1", seq)
    assert harness.clock.getDelayedCalls() == []


def test_exact_mode_repeats_every_interval_until_the_number_arrives() -> None:
    """An unanswered request is repeated every max_rexmit_delay, and stops once it arrives."""
    harness = _Harness()
    harness.rexmit.missing("n1", 7, 7, exact=True)
    harness.clock.pump([0.01] * 80)
    moments = [moment for moment, _ in harness.sent]
    assert len(moments) == 3
    assert [round(b - a, 2) for a, b in zip(moments, moments[1:], strict=False)] == [0.25, 0.25]
    harness.rexmit.arrived("n1", 7)
    harness.clock.pump([0.01] * 100)
    assert len(harness.sent) == 3
    assert harness.clock.getDelayedCalls() == []


def test_hbtwist_mode_asks_for_a_gap_as_one_range() -> None:
    """Towards hbtwist peers, a gap of consecutive numbers is one request."""
    harness = _Harness()
    harness.rexmit.missing("n1", 20, 29, exact=False)
    harness.clock.pump([0.01] * 26)
    assert harness.ranges() == [("20", "29")]
    for seq in range(20, 30):
        harness.rexmit.arrived("n1", seq)
    assert harness.clock.getDelayedCalls() == []


def test_overheard_request_holds_ours_back() -> None:
    """A request another node made for the same numbers postpones ours by an interval."""
    harness = _Harness()
    harness.rexmit.missing("n1", 5, 6, exact=False)
    harness.rexmit.overheard("n1", 5, 6)
    harness.clock.pump([0.01] * 24)
    assert harness.sent == []
    assert harness.counts.requests_held == 2
    harness.clock.pump([0.01] * 20)
    assert harness.ranges() == [("5", "6")]
    assert 0.25 <= harness.sent[0][0] <= 0.375
    harness.rexmit.arrived("n1", 5)
    harness.rexmit.arrived("n1", 6)
    assert harness.clock.getDelayedCalls() == []


def test_nak_gives_the_number_up_as_lost() -> None:
    """A NAK stops the requests for that number and reports it lost."""
    harness = _Harness()
    harness.rexmit.missing("n1", 3, 3, exact=True)
    harness.rexmit.refused("n1", 3)
    harness.clock.pump([0.05] * 20)
    assert harness.sent == []
    assert harness.lost == [("n1", 3, 3, "sender cannot resend it")]


def test_attempts_are_bounded_then_reported_lost() -> None:
    """A number is asked for at most MAX_ATTEMPTS times, then reported lost; timers drain."""
    harness = _Harness()
    harness.rexmit.missing("n1", 40, 41, exact=False)
    harness.clock.pump([0.05] * 600)
    assert len(harness.sent) == MAX_ATTEMPTS
    assert harness.lost == [("n1", 40, 41, "no retransmission after repeated requests")]
    assert harness.clock.getDelayedCalls() == []


def test_no_request_goes_to_a_sender_that_is_not_alive() -> None:
    """A sender that is not up or active is never asked (Heartbeat's rule); once the attempts
    it was not asked in are used up, the number is reported lost and the timers drain."""
    harness = _Harness(alive=False)
    harness.rexmit.missing("n1", 1, 1, exact=True)
    harness.clock.pump([0.05] * 600)
    assert harness.sent == []
    assert harness.lost == [("n1", 1, 1, "no retransmission after repeated requests")]
    assert harness.clock.getDelayedCalls() == []


def test_forgetting_a_sender_reports_its_gaps_and_cancels_timers() -> None:
    """When the sender dies or restarts, what is missing is reported lost and timers stop."""
    harness = _Harness()
    harness.rexmit.missing("n1", 8, 9, exact=False)
    harness.rexmit.missing("n1", 12, 12, exact=False)
    harness.rexmit.forget("n1", "sender declared dead")
    assert harness.lost == [
        ("n1", 8, 9, "sender declared dead"),
        ("n1", 12, 12, "sender declared dead"),
    ]
    assert harness.clock.getDelayedCalls() == []
