"""A scripted resource agent for group and monitor tests: no processes, every call journaled."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock
from zope.interface import implementer

from hbtwist.config.haresources import parse_resource
from hbtwist.config.model import ResourceGroup, ResourcePolicy
from hbtwist.core.events import ResourceOperation
from hbtwist.resources.group import GroupRunner
from hbtwist.resources.interface import IResourceAgent, OperationResult, Outcome

DURATION_MS = 10
T = TypeVar("T")
DEFAULT_POLICY = ResourcePolicy()


@implementer(IResourceAgent)
class FakeAgent:
    """A resource that runs or not; operations answer at once unless held or scripted."""

    def __init__(self, text: str, journal: list[tuple[str, str]], running: bool = False) -> None:
        self.resource = parse_resource(text)
        self.path = f"/fake/{text}"
        self.running = running
        self.journal = journal
        self.outcomes: dict[str, list[Outcome]] = {}
        """Per operation, the outcomes the next calls give (then the natural one)."""
        self.held: set[str] = set()
        """Operations that answer only when the test fires `pending`."""
        self.pending: list[tuple[str, Deferred[OperationResult]]] = []
        self.raises: set[str] = set()

    def start(self) -> Deferred[OperationResult]:
        """Start: the resource runs unless a failure is scripted."""
        return self._operate("start")

    def stop(self) -> Deferred[OperationResult]:
        """Stop: the resource stops unless a failure is scripted."""
        return self._operate("stop")

    def status(self) -> Deferred[OperationResult]:
        """Status: OK when running, NOT_RUNNING otherwise, unless scripted."""
        return self._operate("status")

    def release(self, operation: str) -> None:
        """Answer the oldest held call of `operation`."""
        index = next(i for i, (name, _) in enumerate(self.pending) if name == operation)
        name, running = self.pending.pop(index)
        running.callback(self._result(name))

    def _operate(self, operation: str) -> Deferred[OperationResult]:
        self.journal.append((self.resource.text, operation))
        if operation in self.raises:
            raise RuntimeError(f"{operation} broke")
        if operation in self.held:
            running: Deferred[OperationResult] = Deferred()
            self.pending.append((operation, running))
            return running
        return succeed(self._result(operation))

    def _result(self, operation: str) -> OperationResult:
        scripted = self.outcomes.get(operation)
        if scripted:
            outcome = scripted.pop(0)
        elif operation == "status":
            outcome = Outcome.OK if self.running else Outcome.NOT_RUNNING
        else:
            outcome = Outcome.OK
        if outcome is Outcome.OK and operation in ("start", "stop"):
            self.running = operation == "start"
        return OperationResult(operation, outcome, DURATION_MS, f"{operation} {outcome.value}")


class Harness:
    """A group of fake agents, its runner on a `task.Clock`-like clock, and what it reported."""

    def __init__(
        self, clock: Clock, texts: Sequence[str], policy: ResourcePolicy = DEFAULT_POLICY
    ) -> None:
        self.journal: list[tuple[str, str]] = []
        self.reports: list[ResourceOperation] = []
        self.agents = {text: FakeAgent(text, self.journal) for text in texts}
        resources = tuple(agent.resource for agent in self.agents.values())
        self.group = ResourceGroup("alpha", resources, ("haresources", 1))
        self.policy = policy
        agents = list(self.agents.values())
        self.runner = GroupRunner(self.group, agents, clock, self.policy_of, self.reports.append)

    def policy_of(self, _: str) -> ResourcePolicy:
        """Every resource has the harness's policy."""
        return self.policy


def fired(running: Deferred[T]) -> list[T]:
    """A list that holds what `running` fired with, once it has."""
    results: list[T] = []
    running.addCallback(results.append)
    return results
