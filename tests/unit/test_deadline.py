"""A deadline expires once its last armed delay passes, however it was re-armed, and says how
late it fired."""

from __future__ import annotations

from twisted.internet.task import Clock

from hbtwist.core.deadline import Deadline


def make(clock: Clock) -> tuple[Deadline, list[float]]:
    """A deadline on `clock`, and the latenesses it expired with."""
    expiries: list[float] = []
    return Deadline(clock, expiries.append), expiries


def test_pushed_back_it_keeps_one_pending_call_and_expires_at_the_last_due_time() -> None:
    """Re-armed for later at every step, the deadline never expires early, keeps one pending
    call, and expires exactly one delay after the last re-arm."""
    clock = Clock()
    deadline, expiries = make(clock)
    deadline.arm(0.5)
    for _ in range(20):
        clock.advance(0.125)
        deadline.arm(0.5)
        assert len(clock.getDelayedCalls()) == 1
    clock.advance(0.375)
    assert expiries == [] and deadline.armed
    clock.advance(0.125)
    assert expiries == [0.0] and not deadline.armed and clock.getDelayedCalls() == []


def test_armed_earlier_it_expires_at_the_earlier_time() -> None:
    """A re-arm for sooner than the pending call moves the call."""
    clock = Clock()
    deadline, expiries = make(clock)
    deadline.arm(4.0)
    deadline.arm(1.0)
    clock.advance(1.0)
    assert expiries == [0.0] and clock.getDelayedCalls() == []


def test_a_late_expiry_reports_its_lateness_and_a_cancelled_one_never_comes() -> None:
    """Run late (the clock jumped past the due time), the expiry gets how late it is; a
    cancelled deadline, pushed back or not, leaves nothing pending and never expires."""
    clock = Clock()
    (late, late_expiries), (cancelled, cancelled_expiries) = make(clock), make(clock)
    for deadline in (late, cancelled):
        deadline.arm(1.0)
    clock.advance(0.5)
    for deadline in (late, cancelled):
        deadline.arm(1.0)
    clock.advance(0.75)
    cancelled.cancel()
    clock.advance(1.25)
    assert late_expiries == [1.0] and cancelled_expiries == []
    assert not late.armed and not cancelled.armed and clock.getDelayedCalls() == []
