"""Monitoring a running group: checks at each resource's interval, one at a time; a failed
resource restarted in place; too many restarts, or a failed one, give the group up. Fake agents
on a `task.Clock`."""

from __future__ import annotations

from twisted.internet.task import Clock

from hbtwist.config.model import ResourcePolicy
from hbtwist.resources.interface import Outcome
from hbtwist.resources.monitor import GroupMonitor
from tests.unit.agents.fakes import Harness, fired

POLICY = ResourcePolicy(monitor_interval_ms=1_000, restart_limit=2, restart_window_ms=10_000)


class Watched:
    """A started group of fake agents with its monitor, and the give-ups it called."""

    def __init__(self, texts: list[str], policy: ResourcePolicy = POLICY) -> None:
        self.clock = Clock()
        self.harness = Harness(self.clock, texts, policy)
        assert fired(self.harness.runner.start()) == [True]
        self.harness.journal.clear()
        self.given_up: list[tuple[str, str]] = []
        self.monitor = GroupMonitor(
            self.harness.runner,
            self.clock,
            self.harness.policy_of,
            lambda key, reason: self.given_up.append((key, reason)),
        )

    def steps(self) -> list[str]:
        """The journal as `resource:operation` words, emptied."""
        words = [f"{text}:{operation}" for text, operation in self.harness.journal]
        self.harness.journal.clear()
        return words


def test_each_resource_is_checked_every_interval() -> None:
    """Every resource gets a status check one interval after watch and every interval after."""
    watched = Watched(["a", "b"])
    watched.monitor.watch()
    watched.clock.advance(0.999)
    assert watched.steps() == []
    watched.clock.advance(0.001)
    assert watched.steps() == ["a:status", "b:status"]
    watched.clock.advance(1)
    assert watched.steps() == ["a:status", "b:status"]
    watched.monitor.unwatch()


def test_one_check_in_flight_at_a_time() -> None:
    """While one check is unanswered no other check starts, however overdue; the next one
    follows the answer at once."""
    watched = Watched(["a", "b"])
    watched.harness.agents["a"].held.add("status")
    watched.monitor.watch()
    watched.clock.advance(5)
    assert watched.steps() == ["a:status"]
    watched.harness.agents["a"].release("status")
    watched.clock.advance(0)
    assert watched.steps() == ["b:status"]
    watched.monitor.unwatch()


def test_interval_zero_turns_monitoring_off() -> None:
    """With a monitor interval of 0 nothing is checked and no timer is armed."""
    watched = Watched(["a"], ResourcePolicy(monitor_interval_ms=0))
    watched.monitor.watch()
    assert watched.clock.getDelayedCalls() == []
    assert watched.monitor.watching


def test_failed_check_restarts_the_resource_in_place() -> None:
    """A check that finds the resource stopped or failed restarts just that resource, and the
    operations are reported through the runner."""
    watched = Watched(["a", "b"])
    watched.harness.agents["b"].outcomes["status"] = [Outcome.FAILED]
    watched.monitor.watch()
    watched.clock.advance(1)
    assert watched.steps() == ["a:status", "b:status", "b:stop", "b:start"]
    assert [(r.resource, r.operation, r.result) for r in watched.harness.reports[-3:]] == [
        ("b", "status", "failed"), ("b", "stop", "ok"), ("b", "start", "ok"),
    ]  # fmt: skip
    assert watched.given_up == [] and watched.monitor.watching
    watched.monitor.unwatch()


def test_too_many_restarts_give_the_group_up() -> None:
    """More than `restart_limit` restarts within the window give the group up and end the watch."""
    watched = Watched(["a"])
    watched.harness.agents["a"].outcomes["status"] = [Outcome.NOT_RUNNING] * 3
    watched.monitor.watch()
    watched.clock.pump([1, 1])
    assert watched.steps() == ["a:status", "a:stop", "a:start"] * 2
    watched.clock.advance(1)
    assert watched.steps() == ["a:status"]
    assert watched.given_up == [
        ("a", "a not running (status not running) after 2 restart(s) within 10000 ms")
    ]
    assert not watched.monitor.watching
    assert watched.clock.getDelayedCalls() == []


def test_restarts_outside_the_window_do_not_count() -> None:
    """Restarts older than `restart_window_ms` are forgotten."""
    watched = Watched(
        ["a"], ResourcePolicy(monitor_interval_ms=6_000, restart_limit=1, restart_window_ms=10_000)
    )
    watched.harness.agents["a"].outcomes["status"] = [
        Outcome.NOT_RUNNING,
        Outcome.OK,
        Outcome.NOT_RUNNING,
    ]
    watched.monitor.watch()
    watched.clock.pump([6, 6, 6])
    assert watched.steps().count("a:start") == 2
    assert watched.given_up == []
    watched.monitor.unwatch()


def test_failed_restart_gives_the_group_up() -> None:
    """A restart that cannot start the resource again gives the group up at once."""
    watched = Watched(["a", "b"])
    watched.harness.agents["a"].outcomes["status"] = [Outcome.NOT_RUNNING]
    watched.harness.agents["a"].outcomes["start"] = [Outcome.TIMEOUT]
    watched.monitor.watch()
    watched.clock.advance(1)
    assert watched.given_up == [("a", "restart of a failed")]
    assert watched.clock.getDelayedCalls() == []


def test_unwatch_drops_the_timer_and_a_late_answer() -> None:
    """unwatch() cancels the next check, and a failed check answered after it restarts nothing."""
    watched = Watched(["a"])
    watched.harness.agents["a"].held.add("status")
    watched.harness.agents["a"].outcomes["status"] = [Outcome.FAILED]
    watched.monitor.watch()
    watched.clock.advance(1)
    watched.monitor.unwatch()
    watched.harness.agents["a"].release("status")
    assert watched.steps() == ["a:status"]
    assert watched.clock.getDelayedCalls() == [] and watched.given_up == []


def test_no_checks_once_the_group_stops() -> None:
    """A check due while the group is stopped (the caller forgot unwatch) runs nothing."""
    watched = Watched(["a"])
    watched.monitor.watch()
    fired(watched.harness.runner.stop())
    watched.steps()
    watched.clock.advance(1)
    assert watched.steps() == []
    assert watched.given_up == []
    watched.monitor.unwatch()
