"""Heartbeat copies follow loss: sent for COPIES_HOLD_S after its last sign, never otherwise."""

from __future__ import annotations

from twisted.internet.task import Clock

from hbtwist.core.copies import COPIES_HOLD_S, HeartbeatCopies


def started(most: int) -> tuple[Clock, HeartbeatCopies, list[float]]:
    """A clock, the copies of a node allowed `most` per keepalive, and when each repeat ran."""
    clock = Clock()
    repeats: list[float] = []
    return clock, HeartbeatCopies(clock, most, lambda: repeats.append(clock.seconds())), repeats


def keepalives(clock: Clock, copies: HeartbeatCopies, count: int, keepalive: float = 0.5) -> None:
    """Send a status every `keepalive` seconds, `count` times."""
    for _ in range(count):
        copies.status_sent(keepalive)
        clock.advance(keepalive / 4)
        clock.advance(keepalive / 4)
        clock.advance(keepalive / 4)
        clock.advance(keepalive / 4)


def test_no_copies_without_loss() -> None:
    """Before any sign of loss each status goes out once."""
    clock, copies, repeats = started(3)
    keepalives(clock, copies, 10)
    assert repeats == []
    assert not copies.active


def test_copies_spread_over_the_keepalive_after_loss() -> None:
    """After a sign of loss, `most - 1` repeats follow each status, evenly spread."""
    clock, copies, repeats = started(2)
    copies.loss_seen()
    keepalives(clock, copies, 3, keepalive=0.5)
    assert repeats == [0.25, 0.75, 1.25]


def test_copies_stop_when_loss_is_old() -> None:
    """COPIES_HOLD_S after the last sign of loss, statuses go out once again; a new sign
    starts the copies anew."""
    clock, copies, repeats = started(2)
    copies.loss_seen()
    clock.advance(COPIES_HOLD_S - 0.001)
    assert copies.active
    clock.advance(0.002)
    assert not copies.active
    keepalives(clock, copies, 5)
    assert repeats == []
    copies.loss_seen()
    keepalives(clock, copies, 5)
    assert len(repeats) == 5


def test_one_copy_allowed_means_never_a_repeat() -> None:
    """With one copy per keepalive (enough chances without repeats), loss changes nothing."""
    clock, copies, repeats = started(1)
    copies.loss_seen()
    keepalives(clock, copies, 5)
    assert repeats == [] and not copies.active


def test_a_status_sent_without_copies_cancels_the_pending_one() -> None:
    """A status sent once the copies have stopped takes the place of any repeat still due."""
    clock, copies, repeats = started(2)
    copies.loss_seen()
    copies.status_sent(0.01)
    clock.advance(COPIES_HOLD_S + 1 - clock.seconds())
    assert len(repeats) == 1
    copies.loss_seen()
    copies.status_sent(10.0)
    clock.advance(COPIES_HOLD_S + 1)
    copies.status_sent(10.0)
    clock.advance(20.0)
    assert len(repeats) == 2
    copies.stop()
