"""ha.cf `realtime`: SCHED_RR for the node, normal priority for its children, a refusal survived."""

from __future__ import annotations

import os

import pytest

from hbtwist.daemon import realtime


def test_disabled_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """`realtime off` never touches the scheduler."""
    calls: list[object] = []
    monkeypatch.setattr(os, "sched_setscheduler", lambda *args: calls.append(args))
    assert realtime.enter_realtime(False, None) is False
    assert calls == []


def test_enabled_asks_for_round_robin_reset_on_fork(monkeypatch: pytest.MonkeyPatch) -> None:
    """`realtime on` asks for SCHED_RR with reset-on-fork at rtprio, clamped to the valid range."""
    calls: list[tuple[int, int, int]] = []
    monkeypatch.setattr(
        os,
        "sched_setscheduler",
        lambda pid, policy, param: calls.append((pid, policy, param.sched_priority)),
    )
    assert realtime.enter_realtime(True, None) is True
    assert realtime.enter_realtime(True, 500) is True
    rr = os.SCHED_RR | os.SCHED_RESET_ON_FORK
    assert calls == [(0, rr, 1), (0, rr, os.sched_get_priority_max(os.SCHED_RR))]


def test_refusal_is_survived(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the privilege the node runs on at normal priority."""

    def refuse(*args: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "sched_setscheduler", refuse)
    assert realtime.enter_realtime(True, 10) is False
