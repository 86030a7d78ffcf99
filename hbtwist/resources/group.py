"""One resource group run here as ResourceManager runs it: started left to right, stopped right
to left, one operation at a time.

start: each resource gets a status check and is skipped when it already runs (an agent whose
`idempotent_start` is true checks that itself, and its start runs at once); a start that
fails (or times out) stops what was started, right to left, and the start answers False (the
caller hands the group away: "Giving up resources due to failure of <rsc>").
stop: a failed stop is tried again `stop_retries` times, `stop_retry_interval_ms` apart; if it
still fails, a status check decides: not running is fine; running or unknown leaves the stop
unconfirmed and the stop answers False (the group must then never start elsewhere unfenced).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable, Sequence
from typing import Any, TypeVar

from twisted.internet.defer import CancelledError, Deferred, DeferredLock
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import deferLater

from hbtwist.config.model import ResourceGroup, ResourcePolicy
from hbtwist.core.events import ResourceOperation
from hbtwist.core.snapshot import ResourceSnapshot
from hbtwist.resources.interface import IResourceAgent, OperationResult, Outcome

T = TypeVar("T")
PolicyOf = Callable[[str], ResourcePolicy]
"""The policy of the resource written as the given text (`ResourceSettings.policy`)."""
Report = Callable[[ResourceOperation], None]

_BEFORE = {"start": "starting", "stop": "stopping"}
_AFTER = {
    ("start", Outcome.OK): "running",
    ("stop", Outcome.OK): "stopped",
    ("status", Outcome.OK): "running",
    ("status", Outcome.NOT_RUNNING): "stopped",
    ("status", Outcome.TIMEOUT): "unknown",
}
"""A resource's state after an operation and its outcome; `failed` for anything else."""


class GroupRunner:
    """Runs the operations on one group's resources, serialized, and reports each one."""

    def __init__(
        self,
        group: ResourceGroup,
        agents: Sequence[IResourceAgent],
        clock: IReactorTime,
        policy_of: PolicyOf,
        report: Report,
    ) -> None:
        if len(agents) != len(group.resources):
            raise ValueError("one agent per resource of the group")
        self.group = group
        self._agents = tuple(agents)
        self._clock = clock
        self._policy_of = policy_of
        self._report = report
        self._lock = DeferredLock()
        self._states = ["unknown"] * len(agents)
        self._last: list[OperationResult | None] = [None] * len(agents)
        self._state = "stopped"
        self._waiting: Deferred[Any] | None = None
        self._closed = False
        self.failure: str | None = None
        """The resource whose start failed last, for the caller's "Giving up" line."""

    @property
    def key(self) -> str:
        """The group key."""
        return self.group.key

    @property
    def state(self) -> str:
        """`stopped`, `starting`, `running`, `stopping`, `failed` (a start or restart failed and
        what was started is stopped) or `unconfirmed` (a stop could not be confirmed)."""
        return self._state

    def start(self) -> Deferred[bool]:
        """Start the group left to right; True when every resource runs."""
        return self._serialized(self._start)

    def stop(self) -> Deferred[bool]:
        """Stop the group right to left; True when every resource is confirmed stopped."""
        return self._serialized(self._stop)

    def restart(self, index: int) -> Deferred[bool]:
        """Stop then start the resource at `index` of a running group; True when it runs again."""
        return self._serialized(lambda: self._restart(index))

    def check(self, index: int) -> Deferred[OperationResult | None]:
        """A status check of the resource at `index`; None when the group is not running."""
        return self._serialized(lambda: self._check(index))

    def snapshot(self) -> tuple[ResourceSnapshot, ...]:
        """Each resource's state and the last operation run on it."""
        return tuple(
            ResourceSnapshot(
                text=resource.text,
                state=state,
                path=agent.path,
                last_operation=last.operation if last else None,
                last_result=last.outcome.value if last else None,
                last_duration_ms=last.duration_ms if last else None,
                last_detail=last.detail if last else "",
            )
            for resource, agent, state, last in zip(
                self.group.resources, self._agents, self._states, self._last, strict=True
            )
        )

    def cancel(self) -> None:
        """Shutdown: the operation under way is cancelled and nothing more runs; every pending
        and later call answers False (or None)."""
        self._closed = True
        if self._waiting is not None:
            self._waiting.cancel()

    def _serialized(self, work: Callable[[], Coroutine[Any, Any, T]]) -> Deferred[T]:
        async def serialized() -> T:
            await self._lock.acquire()
            try:
                return await work()
            finally:
                self._lock.release()

        return Deferred.fromCoroutine(serialized())

    async def _start(self) -> bool:
        if self._closed:
            return False
        self._state = "starting"
        for index, agent in enumerate(self._agents):
            if (
                not getattr(agent, "idempotent_start", False)
                and (await self._operate(index, "status")).ok
            ):
                continue
            if self._closed:
                return False
            started = (await self._operate(index, "start")).ok
            if self._closed:
                return False
            if not started:
                self.failure = self.group.resources[index].text
                released = await self._stop_each(range(index, -1, -1))
                self._state = "failed" if released else "unconfirmed"
                return False
        if self._closed:
            return False
        self._state = "running"
        return True

    async def _stop(self) -> bool:
        if self._closed:
            return False
        self._state = "stopping"
        stopped = await self._stop_each(range(len(self._agents) - 1, -1, -1))
        self._state = "stopped" if stopped else "unconfirmed"
        return stopped

    async def _restart(self, index: int) -> bool:
        if self._closed or self._state != "running":
            return False
        if not await self._stop_one(index):
            self._state = "unconfirmed"
            return False
        if not (await self._operate(index, "start")).ok:
            self.failure = self.group.resources[index].text
            self._state = "failed"
            return False
        return True

    async def _check(self, index: int) -> OperationResult | None:
        if self._closed or self._state != "running":
            return None
        return await self._operate(index, "status")

    async def _stop_each(self, indices: Iterable[int]) -> bool:
        """Stop each resource in turn, all of them even after one fails; True if all stopped."""
        stopped = True
        for index in indices:
            stopped = await self._stop_one(index) and stopped
        return stopped and not self._closed

    async def _stop_one(self, index: int) -> bool:
        policy = self._policy_of(self.group.resources[index].text)
        result = await self._operate(index, "stop")
        for _ in range(policy.stop_retries):
            if result.ok or self._closed:
                break
            await self._sleep(policy.stop_retry_interval_ms)
            result = await self._operate(index, "stop")
        if result.ok:
            return True
        if self._closed:
            return False
        return (await self._operate(index, "status")).outcome is Outcome.NOT_RUNNING

    async def _operate(self, index: int, operation: str) -> OperationResult:
        """Run one operation; record and report its result (nothing runs once cancelled)."""
        if self._closed:
            return OperationResult(operation, Outcome.FAILED, 0, "cancelled")
        agent = self._agents[index]
        self._states[index] = _BEFORE.get(operation, self._states[index])
        try:
            result = await self._wait(getattr(agent, operation)())
        except CancelledError:
            return OperationResult(operation, Outcome.FAILED, 0, "cancelled")
        except Exception as problem:
            result = OperationResult(operation, Outcome.FAILED, 0, f"the agent failed: {problem!r}")
        self._states[index] = _AFTER.get((operation, result.outcome), "failed")
        self._last[index] = result
        self._report(
            ResourceOperation(
                group=self.key,
                resource=self.group.resources[index].text,
                operation=result.operation,
                result=result.outcome.value,
                duration_ms=result.duration_ms,
                path=agent.path,
                detail=result.detail,
            )
        )
        return result

    async def _sleep(self, milliseconds: int) -> None:
        try:
            await self._wait(deferLater(self._clock, milliseconds / 1000))
        except CancelledError:
            return

    async def _wait(self, running: Deferred[T]) -> T:
        self._waiting = running
        try:
            return await running
        finally:
            self._waiting = None
