"""A resource group run as ResourceManager runs it: start left to right with status checks, give
up on a failed start, stop right to left with retries and a final status, one operation at a
time, snapshots, restarts and cancellation. Fake agents on a `task.Clock`."""

from __future__ import annotations

from dataclasses import replace

import pytest
from twisted.internet.task import Clock

from hbtwist.config.model import ResourcePolicy
from hbtwist.core.events import ResourceOperation
from hbtwist.resources.interface import Outcome
from tests.unit.agents.fakes import DURATION_MS, Harness, fired

ABC = ["a", "b", "c"]


def steps(harness: Harness) -> list[str]:
    """The journal as `resource:operation` words."""
    return [f"{text}:{operation}" for text, operation in harness.journal]


def test_start_runs_left_to_right_after_a_status_check() -> None:
    """Each resource gets a status check, then a start, left to right; the start answers True
    and the group and its resources are running."""
    harness = Harness(Clock(), ABC)
    assert fired(harness.runner.start()) == [True]
    assert steps(harness) == ["a:status", "a:start", "b:status", "b:start", "c:status", "c:start"]
    assert harness.runner.state == "running"
    assert [resource.state for resource in harness.runner.snapshot()] == ["running"] * 3


def test_start_skips_resources_already_running() -> None:
    """A resource whose status check says it runs is not started again."""
    harness = Harness(Clock(), ABC)
    harness.agents["b"].running = True
    assert fired(harness.runner.start()) == [True]
    assert steps(harness) == ["a:status", "a:start", "b:status", "c:status", "c:start"]


def test_an_agent_with_an_idempotent_start_is_started_without_a_status_check() -> None:
    """An agent that declares `idempotent_start` (it finds itself whether it runs) is started at
    once; the others still get their status check first."""
    harness = Harness(Clock(), ABC)
    harness.agents["b"].idempotent_start = True  # type: ignore[attr-defined]
    assert fired(harness.runner.start()) == [True]
    assert steps(harness) == ["a:status", "a:start", "b:start", "c:status", "c:start"]
    assert [resource.state for resource in harness.runner.snapshot()] == ["running"] * 3


@pytest.mark.parametrize("outcome", [Outcome.FAILED, Outcome.TIMEOUT])
def test_failed_start_stops_what_was_started_right_to_left(outcome: Outcome) -> None:
    """A start that fails or times out stops that resource and those before it, right to
    left; resources after it are not touched, and the start answers False."""
    harness = Harness(Clock(), ["a", "b", "c", "d"])
    harness.agents["c"].outcomes["start"] = [outcome]
    assert fired(harness.runner.start()) == [False]
    assert steps(harness) == [
        "a:status", "a:start", "b:status", "b:start", "c:status", "c:start",
        "c:stop", "b:stop", "a:stop",
    ]  # fmt: skip
    assert harness.runner.state == "failed"
    assert harness.runner.failure == "c"
    states = [resource.state for resource in harness.runner.snapshot()]
    assert states == ["stopped", "stopped", "stopped", "unknown"]


def test_failed_start_whose_release_is_unconfirmed() -> None:
    """When the release after a failed start cannot be confirmed, the group is unconfirmed."""
    harness = Harness(Clock(), ABC, ResourcePolicy(stop_retries=0))
    harness.agents["b"].outcomes["start"] = [Outcome.FAILED]
    harness.agents["a"].outcomes["stop"] = [Outcome.FAILED]
    harness.agents["a"].outcomes["status"] = [Outcome.NOT_RUNNING, Outcome.OK]
    assert fired(harness.runner.start()) == [False]
    assert harness.runner.state == "unconfirmed"


def test_stop_runs_right_to_left() -> None:
    """Stop goes right to left and answers True when every stop succeeded."""
    harness = Harness(Clock(), ABC)
    fired(harness.runner.start())
    harness.journal.clear()
    assert fired(harness.runner.stop()) == [True]
    assert steps(harness) == ["c:stop", "b:stop", "a:stop"]
    assert harness.runner.state == "stopped"


def test_failed_stop_is_retried_at_the_interval() -> None:
    """A failed stop is tried again `stop_retry_interval_ms` apart until it succeeds."""
    clock = Clock()
    harness = Harness(clock, ABC, ResourcePolicy(stop_retries=3, stop_retry_interval_ms=1_000))
    harness.agents["b"].outcomes["stop"] = [Outcome.FAILED, Outcome.TIMEOUT]
    stopping = fired(harness.runner.stop())
    assert steps(harness) == ["c:stop", "b:stop"]
    clock.advance(0.999)
    assert steps(harness) == ["c:stop", "b:stop"]
    clock.advance(0.001)
    assert steps(harness) == ["c:stop", "b:stop", "b:stop"]
    clock.advance(1)
    assert steps(harness) == ["c:stop", "b:stop", "b:stop", "b:stop", "a:stop"]
    assert stopping == [True]


def test_stop_that_keeps_failing_but_is_not_running_is_confirmed() -> None:
    """After the retries, a status check that says not running confirms the stop (a script
    that is not LSB-compliant about stopping a stopped resource)."""
    clock = Clock()
    harness = Harness(clock, ["a"], ResourcePolicy(stop_retries=2, stop_retry_interval_ms=500))
    harness.agents["a"].outcomes["stop"] = [Outcome.FAILED] * 3
    stopping = fired(harness.runner.stop())
    clock.pump([0.5, 0.5])
    assert steps(harness) == ["a:stop", "a:stop", "a:stop", "a:status"]
    assert stopping == [True]
    assert harness.runner.state == "stopped"


@pytest.mark.parametrize("status", [Outcome.OK, Outcome.TIMEOUT, Outcome.FAILED])
def test_stop_that_keeps_failing_and_may_run_is_unconfirmed(status: Outcome) -> None:
    """After the retries, a status check that says running, or cannot tell, leaves the stop
    unconfirmed: the stop answers False, the other resources are still stopped."""
    clock = Clock()
    harness = Harness(clock, ABC, ResourcePolicy(stop_retries=1, stop_retry_interval_ms=100))
    harness.agents["b"].outcomes["stop"] = [Outcome.FAILED] * 2
    harness.agents["b"].outcomes["status"] = [status]
    stopping = fired(harness.runner.stop())
    clock.advance(0.1)
    assert steps(harness) == ["c:stop", "b:stop", "b:stop", "b:status", "a:stop"]
    assert stopping == [False]
    assert harness.runner.state == "unconfirmed"


def test_stop_requested_during_a_start_waits_for_it() -> None:
    """Operations are serialized: a stop asked for while a start runs begins after it."""
    harness = Harness(Clock(), ["a", "b"])
    harness.agents["b"].held.add("start")
    starting = fired(harness.runner.start())
    stopping = fired(harness.runner.stop())
    assert steps(harness) == ["a:status", "a:start", "b:status", "b:start"]
    assert harness.runner.state == "starting"
    harness.agents["b"].release("start")
    assert starting == [True] and stopping == [True]
    assert steps(harness)[4:] == ["b:stop", "a:stop"]


def test_every_finished_operation_is_reported() -> None:
    """Each operation is reported with the group, resource, result, duration, path and detail."""
    harness = Harness(Clock(), ["a", "b"])
    harness.agents["b"].outcomes["start"] = [Outcome.FAILED]
    fired(harness.runner.start())
    assert harness.reports[3] == ResourceOperation(
        group="a",
        resource="b",
        operation="start",
        result="failed",
        duration_ms=DURATION_MS,
        path="/fake/b",
        detail="start failed",
    )
    assert [(report.resource, report.operation) for report in harness.reports] == [
        ("a", "status"), ("a", "start"), ("b", "status"), ("b", "start"), ("b", "stop"), ("a", "stop"),
    ]  # fmt: skip


def test_snapshot_shows_the_last_operation_of_each_resource() -> None:
    """The snapshot holds each resource's state, path and last operation with its result."""
    harness = Harness(Clock(), ["a", "b"])
    assert [(r.state, r.last_operation) for r in harness.runner.snapshot()] == [("unknown", None)] * 2
    harness.agents["b"].held.add("start")
    fired(harness.runner.start())
    a, b = harness.runner.snapshot()
    assert (a.state, a.path, a.last_operation, a.last_result) == ("running", "/fake/a", "start", "ok")
    assert (a.last_duration_ms, a.last_detail) == (DURATION_MS, "start ok")
    assert (b.state, b.last_operation, b.last_result) == ("starting", "status", "not running")
    harness.agents["b"].release("start")


def test_restart_stops_then_starts_one_resource() -> None:
    """restart(index) stops and starts only that resource of a running group."""
    harness = Harness(Clock(), ABC)
    fired(harness.runner.start())
    harness.journal.clear()
    assert fired(harness.runner.restart(1)) == [True]
    assert steps(harness) == ["b:stop", "b:start"]
    assert harness.runner.state == "running"


def test_failed_restart_fails_the_group() -> None:
    """A restart whose start fails answers False and marks the group failed."""
    harness = Harness(Clock(), ABC)
    fired(harness.runner.start())
    harness.agents["c"].outcomes["start"] = [Outcome.FAILED]
    assert fired(harness.runner.restart(2)) == [False]
    assert harness.runner.state == "failed" and harness.runner.failure == "c"


def test_restart_and_check_need_a_running_group() -> None:
    """A restart or check asked for when the group is not running does nothing."""
    harness = Harness(Clock(), ABC)
    assert fired(harness.runner.restart(0)) == [False]
    assert fired(harness.runner.check(0)) == [None]
    assert harness.journal == []


def test_agent_that_raises_is_a_failure() -> None:
    """An agent that raises instead of answering counts as a failed operation."""
    harness = Harness(Clock(), ["a"])
    harness.agents["a"].raises.add("start")
    assert fired(harness.runner.start()) == [False]
    assert harness.reports[1].result == "failed"
    assert "start broke" in harness.reports[1].detail


def test_cancel_ends_the_wait_and_everything_after() -> None:
    """cancel() drops the pending retry timer; the stop under way and any later operation
    answer False without running anything more."""
    clock = Clock()
    harness = Harness(clock, ["a", "b"], ResourcePolicy(stop_retries=5, stop_retry_interval_ms=1_000))
    harness.agents["b"].outcomes["stop"] = [Outcome.FAILED]
    stopping = fired(harness.runner.stop())
    assert len(clock.getDelayedCalls()) == 1
    harness.runner.cancel()
    assert clock.getDelayedCalls() == []
    assert stopping == [False]
    assert fired(harness.runner.start()) == [False]
    assert steps(harness) == ["b:stop"]


def test_cancel_cancels_the_operation_in_flight() -> None:
    """cancel() cancels the agent operation under way (a child process would be killed)."""
    harness = Harness(Clock(), ["a"])
    harness.agents["a"].held.add("start")
    starting = fired(harness.runner.start())
    ((_, running),) = harness.agents["a"].pending
    harness.runner.cancel()
    assert running.called
    assert starting == [False]


def test_one_agent_per_resource() -> None:
    """A runner refuses a list of agents that does not match the group's resources."""
    harness = Harness(Clock(), ["a", "b"])
    with pytest.raises(ValueError):
        type(harness.runner)(
            replace(harness.group, resources=harness.group.resources[:1]),
            list(harness.agents.values()),
            Clock(),
            harness.policy_of,
            harness.reports.append,
        )
