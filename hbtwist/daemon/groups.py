"""The resource manager's hands on this host: group runners, their monitors, the STONITH device,
and its log lines."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from twisted.logger import Logger, LogLevel
from zope.interface import implementer

from hbtwist.config import ClusterConfig
from hbtwist.config.model import Resource
from hbtwist.core.events import Event, ResourceOperation
from hbtwist.core.failover import ResourceManager
from hbtwist.core.holders import GroupSpec
from hbtwist.core.output import IGroupActions
from hbtwist.core.snapshot import ResourceSnapshot
from hbtwist.resources.agents import agent_for
from hbtwist.resources.group import GroupRunner
from hbtwist.resources.interface import AgentContext, IResourceAgent
from hbtwist.resources.monitor import GroupMonitor
from hbtwist.resources.stonith import Fencer, ResetOutcome

_log = Logger(namespace="hbtwist.resources")


def native_ip_agent(resource: Resource, context: AgentContext) -> IResourceAgent | None:
    """`hbtwist.resources.vip.native_ip_agent`, whose modules load with a node's first resource."""
    from hbtwist.resources.vip import native_ip_agent as native

    return native(resource, context)


def group_specs(config: ClusterConfig) -> list[GroupSpec]:
    """The resource manager's view of haresources: each group's key and preferred node."""
    return [GroupSpec(group.key, group.preferred_node) for group in config.resources]


@implementer(IGroupActions)
class GroupHost:
    """Runs groups for the resource manager and answers it when each operation ends."""

    def __init__(self, config: ClusterConfig, reactor: Any, report: Callable[[Event], None]) -> None:
        context = AgentContext(
            config_dir=config.config_dir,
            reactor=reactor,
            settings=config.settings,
            log=config.hacf.log,
        )
        policy = config.settings.policy
        self._report = report
        self.operations: Counter[tuple[str, str]] = Counter()
        self.manager: ResourceManager | None = None
        self.runners: dict[str, GroupRunner] = {}
        self.monitors: dict[str, GroupMonitor] = {}
        device = config.hacf.stonith
        self.fencer = Fencer(device, config.hacf.nodes, reactor) if device is not None else None
        for group in config.resources:
            agents = [
                agent_for(resource, context, native=native_ip_agent) for resource in group.resources
            ]
            for resource, agent in zip(group.resources, agents, strict=True):
                _log.info(
                    "Resource {resource} runs through {path}", resource=resource.text, path=agent.path
                )
            runner = GroupRunner(group, agents, reactor, policy, self._operation_done)
            self.runners[group.key] = runner
            self.monitors[group.key] = GroupMonitor(runner, reactor, policy, self._give_up)

    def _manager(self) -> ResourceManager:
        if self.manager is None:
            raise RuntimeError("GroupHost used before its resource manager was attached")
        return self.manager

    # IGroupActions

    def start_group(self, key: str) -> None:
        """Start `key`; once it runs, watch it; tell the manager either way."""
        runner = self.runners[key]

        def started(ok: bool) -> None:
            if ok:
                self.monitors[key].watch()
            self._manager().group_started(key, ok, runner.failure or "")

        runner.start().addCallback(started)

    def stop_group(self, key: str) -> None:
        """Stop watching `key`, stop it, and tell the manager whether the stop is confirmed."""
        self.monitors[key].unwatch()
        self.runners[key].stop().addCallback(lambda ok: self._manager().group_stopped(key, ok))

    def fence(self, node: str) -> None:
        """Reset `node` with the STONITH device; tell the manager the result (`bad` without one)."""
        if self.fencer is None:
            self._fenced(node, ResetOutcome("bad", "no STONITH device configured", 0))
            return
        self.fencer.reset(node).addCallback(lambda outcome: self._fenced(node, outcome))

    def _fenced(self, node: str, outcome: ResetOutcome) -> None:
        level = LogLevel.info if outcome.result == "OK" else LogLevel.warn
        _log.emit(
            level,
            "STONITH command for {node}: {result} in {duration_ms} ms ({detail})",
            node=node,
            result=outcome.result,
            duration_ms=outcome.duration_ms,
            detail=outcome.detail,
        )
        self._manager().fence_done(node, outcome.result)

    def say(self, level: str, text: str) -> None:
        """One resource manager line, at its level."""
        _log.emit(LogLevel.levelWithName(level), "{text}", text=text)

    # Readers

    def resources_of(self, key: str) -> tuple[ResourceSnapshot, ...]:
        """Each resource of group `key` and its last operation."""
        runner = self.runners.get(key)
        return runner.snapshot() if runner is not None else ()

    def operation_counts(self) -> tuple[tuple[str, str, int], ...]:
        """(operation, result, count) for every operation run here, sorted."""
        return tuple((op, result, n) for (op, result), n in sorted(self.operations.items()))

    def cancel(self) -> None:
        """Stop every monitor and every runner: nothing more runs."""
        for monitor in self.monitors.values():
            monitor.unwatch()
        for runner in self.runners.values():
            runner.cancel()
        if self.fencer is not None:
            self.fencer.cancel()

    def _operation_done(self, event: ResourceOperation) -> None:
        self.operations[(event.operation, event.result)] += 1
        self._report(event)

    def _give_up(self, key: str, reason: str) -> None:
        self._manager().group_failed(key, reason)
