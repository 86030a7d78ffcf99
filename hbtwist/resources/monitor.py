"""Monitoring of a running group: each resource's status every `monitor_interval_ms`, a failed
resource restarted in place, and the group given up when restarts come too often.

One check (or restart) is in flight at a time; checks and restarts go through the group's
runner, so they are serialized with its start and stop and reported like every operation. A
resource with an interval of 0 is not monitored. More than `restart_limit` restarts of one
resource within `restart_window_ms`, or a restart that fails, end the watch and call
`give_up(group key, reason)`: the caller moves the group to another node.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from hbtwist.resources.group import GroupRunner, PolicyOf
from hbtwist.resources.interface import OperationResult

GiveUp = Callable[[str, str], None]
"""Called with the group key and the reason when the group cannot be kept running here."""

log = Logger()


class GroupMonitor:
    """Watches one started group; `watch()` after it started, `unwatch()` before it stops."""

    def __init__(
        self, runner: GroupRunner, clock: IReactorTime, policy_of: PolicyOf, give_up: GiveUp
    ) -> None:
        self._runner = runner
        self._clock = clock
        self._policy_of = policy_of
        self._give_up = give_up
        self._watching = False
        self._generation = 0
        """Bumped by watch and unwatch: a result from an earlier watch is dropped."""
        self._due: dict[int, float] = {}
        self._busy = False
        self._timer: IDelayedCall | None = None
        self._restarts: list[deque[float]] = [deque() for _ in runner.group.resources]

    @property
    def watching(self) -> bool:
        """Whether the group is being watched."""
        return self._watching

    def watch(self) -> None:
        """Start checking each monitored resource, first one interval from now."""
        self.unwatch()
        self._watching = True
        now = self._clock.seconds()
        for index in range(len(self._runner.group.resources)):
            self._restarts[index].clear()
            interval = self._interval(index)
            if interval > 0:
                self._due[index] = now + interval
        self._arm()

    def unwatch(self) -> None:
        """Stop checking; a check or restart in flight is left to end, its result dropped."""
        self._watching = False
        self._generation += 1
        self._due.clear()
        self._busy = False
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def _interval(self, index: int) -> float:
        return self._policy_of(self._runner.group.resources[index].text).monitor_interval_ms / 1000

    def _arm(self) -> None:
        if not self._watching or self._busy or not self._due or self._timer is not None:
            return
        index = min(self._due, key=self._due.__getitem__)
        delay = max(0.0, self._due[index] - self._clock.seconds())
        self._timer = self._clock.callLater(delay, self._check, index)

    def _check(self, index: int) -> None:
        self._timer = None
        self._busy = True
        generation = self._generation
        checking = self._runner.check(index)
        checking.addCallback(self._checked, index, generation)
        checking.addErrback(self._error, index, generation)

    def _checked(self, result: OperationResult | None, index: int, generation: int) -> None:
        if generation != self._generation:
            return
        if result is None or result.ok:
            self._again(index)
            return
        text = self._runner.group.resources[index].text
        policy = self._policy_of(text)
        now = self._clock.seconds()
        restarts = self._restarts[index]
        while restarts and restarts[0] <= now - policy.restart_window_ms / 1000:
            restarts.popleft()
        if len(restarts) >= policy.restart_limit:
            self._end(
                f"{text} {result.outcome.value} ({result.detail}) after {len(restarts)} restart(s) "
                f"within {policy.restart_window_ms} ms"
            )
            return
        restarts.append(now)
        restarting = self._runner.restart(index)
        restarting.addCallback(self._restarted, index, generation)
        restarting.addErrback(self._error, index, generation)

    def _restarted(self, running: bool, index: int, generation: int) -> None:
        if generation != self._generation:
            return
        if running:
            self._again(index)
        else:
            self._end(f"restart of {self._runner.group.resources[index].text} failed")

    def _error(self, failure: Failure, index: int, generation: int) -> None:
        log.failure("monitoring {group}", failure, group=self._runner.key)
        if generation == self._generation:
            self._again(index)

    def _again(self, index: int) -> None:
        self._busy = False
        self._due[index] = self._clock.seconds() + self._interval(index)
        self._arm()

    def _end(self, reason: str) -> None:
        self.unwatch()
        self._give_up(self._runner.key, reason)
