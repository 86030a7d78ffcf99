"""Receive-side sequence tracking follows Heartbeat's acceptance rules."""

from __future__ import annotations

from hbtwist.core.seqtrack import MAX_RECOVERABLE_GAP, SequenceTracker, Verdict


def test_in_order_then_duplicate_then_old() -> None:
    """The next number is accepted, the same again is a duplicate, an earlier one is old."""
    tracker = SequenceTracker()
    assert tracker.observe(5).verdict is Verdict.ACCEPT
    assert tracker.observe(6).verdict is Verdict.ACCEPT
    assert tracker.observe(6).verdict is Verdict.DUPLICATE
    assert tracker.observe(5).verdict is Verdict.OLD


def test_gap_is_recorded_and_filled() -> None:
    """A jump records the missing numbers; each late arrival is accepted once."""
    tracker = SequenceTracker()
    tracker.observe(1)
    observation = tracker.observe(5)
    assert observation.lost == (2, 4)
    assert tracker.contiguous() == 1
    assert tracker.observe(3).recovered
    assert tracker.observe(3).verdict is Verdict.OLD
    tracker.observe(2)
    tracker.observe(4)
    assert tracker.contiguous() == 5 and not tracker.missing


def test_huge_gap_resynchronises() -> None:
    """A gap over the recoverable limit is accepted without tracking the missing numbers."""
    tracker = SequenceTracker()
    tracker.observe(1)
    observation = tracker.observe(MAX_RECOVERABLE_GAP + 3)
    assert observation.resynchronised and not tracker.missing
