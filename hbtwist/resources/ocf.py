"""`OCF::<type>::<instance>`: an OCF resource agent run directly, as Heartbeat's OCF wrapper does.

The agent is the first `<ocf_root>/resource.d/<provider>/<type>` (`heartbeat` first, then the
other providers in sorted order); its environment is the instance file
`conf/OCF/<type>/<instance>` (see `ocfconf`) and the OCF variables. status runs the `monitor`
action, judged by exit status: 0 running, 7 not running, anything else failed.
"""

from __future__ import annotations

import os

from twisted.internet.defer import Deferred
from zope.interface import implementer

from hbtwist.config.model import Resource
from hbtwist.resources.interface import AgentContext, IResourceAgent, OperationResult, Outcome
from hbtwist.resources.ocfconf import OcfConfError, conf_candidates, find_conf, read_conf
from hbtwist.resources.operation import base_environment, exit_zero, not_run, run_operation
from hbtwist.resources.process import Completed

OCF_SUCCESS = 0
OCF_NOT_RUNNING = 7
FIRST_PROVIDER = "heartbeat"


def find_agent(ocf_root: str, agent_type: str) -> tuple[str, str] | None:
    """(path, provider) of the first executable agent called `agent_type`, if any."""
    directory = os.path.join(ocf_root, "resource.d")
    try:
        providers = sorted(os.listdir(directory), key=lambda name: (name != FIRST_PROVIDER, name))
    except OSError:
        return None
    for provider in providers:
        path = os.path.join(directory, provider, agent_type)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path, provider
    return None


def monitor_outcome(completed: Completed) -> Outcome:
    """The OCF monitor action's exit status: 0 running, 7 cleanly stopped, else failed."""
    if completed.exit_code == OCF_SUCCESS:
        return Outcome.OK
    if completed.exit_code == OCF_NOT_RUNNING:
        return Outcome.NOT_RUNNING
    return Outcome.FAILED


def _plain_name(name: str) -> bool:
    return bool(name) and "/" not in name and name not in (".", "..")


@implementer(IResourceAgent)
class OcfAgent:
    """One `OCF::<type>::<instance>` resource; agent and instance file are found per operation."""

    def __init__(self, resource: Resource, context: AgentContext) -> None:
        self.resource = resource
        self._context = context
        self._policy = context.settings.policy(resource.text)
        self._type, self._instance = (resource.args + ("", ""))[:2]

    @property
    def path(self) -> str:
        """The agent that runs the operations, or the pattern it is looked for with."""
        found = find_agent(self._context.ocf_root, self._type) if self._valid() else None
        if found is not None:
            return found[0]
        return os.path.join(self._context.ocf_root, "resource.d", "*", self._type)

    def start(self) -> Deferred[OperationResult]:
        """The agent's `start` action; exit status 0 is success."""
        return self._run("start", self._policy.start_timeout_ms)

    def stop(self) -> Deferred[OperationResult]:
        """The agent's `stop` action; exit status 0 is success."""
        return self._run("stop", self._policy.stop_timeout_ms)

    def status(self) -> Deferred[OperationResult]:
        """The agent's `monitor` action: 0 running, 7 not running, anything else failed."""
        return self._run("monitor", self._policy.monitor_timeout_ms)

    def _valid(self) -> bool:
        return len(self.resource.args) == 2 and all(
            _plain_name(name) for name in (self._type, self._instance)
        )

    def _run(self, operation: str, timeout_ms: int) -> Deferred[OperationResult]:
        if not self._valid():
            return not_run(operation, "expected OCF::<agent type>::<instance name>")
        found = find_agent(self._context.ocf_root, self._type)
        if found is None:
            return not_run(operation, f"no executable OCF agent {self.path}")
        agent, provider = found
        candidates = conf_candidates(
            self._context.config_dir, self._context.heartbeat_dir, self._type, self._instance
        )
        conf = find_conf(candidates)
        if conf is None:
            return not_run(operation, f"no instance file {' or '.join(candidates)}")
        try:
            values = read_conf(conf)
        except OcfConfError as problem:
            return not_run(operation, str(problem))
        env = {
            **base_environment(self._context),
            **values,
            "OCF_ROOT": self._context.ocf_root,
            "OCF_RA_VERSION_MAJOR": "1",
            "OCF_RA_VERSION_MINOR": "0",
            "OCF_RESOURCE_INSTANCE": self._instance,
            "OCF_RESOURCE_TYPE": self._type,
            "OCF_RESOURCE_PROVIDER": provider,
        }
        judge = monitor_outcome if operation == "monitor" else exit_zero
        return run_operation(self._context, operation, (agent, operation), env, timeout_ms, judge)
