"""Heartbeat-style `resource.d` scripts and LSB init scripts, run as ResourceManager runs them.

`<script> [args...] start|stop|status`: start and stop succeed on exit status 0; status is read
from the text the script prints on standard output, never from its exit status.
"""

from __future__ import annotations

import os
import re

from twisted.internet.defer import Deferred
from zope.interface import implementer

from hbtwist.config.model import Resource
from hbtwist.resources.interface import AgentContext, IResourceAgent, OperationResult, Outcome
from hbtwist.resources.operation import base_environment, exit_zero, not_run, run_operation
from hbtwist.resources.process import Completed

NOT_RUNNING_TEXT = re.compile(r".*[Nn][Oo][Tt] .*[Rr]unning.*", re.DOTALL)
"""ResourceManager's `*[Nn][Oo][Tt]\\ *[Rr]unning*`: the resource is not running."""
RUNNING_TEXT = re.compile(r".*([Rr]unning|OK).*", re.DOTALL)
"""ResourceManager's `*[Rr]unning*|*OK*`: the resource runs (anything else: it does not)."""


def status_from_text(stdout: str) -> Outcome:
    """What a script's status output says, judged as ResourceManager's `we_own_resource` does."""
    text = stdout.rstrip("\n")
    if NOT_RUNNING_TEXT.fullmatch(text):
        return Outcome.NOT_RUNNING
    if RUNNING_TEXT.fullmatch(text):
        return Outcome.OK
    return Outcome.NOT_RUNNING


def script_candidates(context: AgentContext, script: str) -> tuple[str, ...]:
    """Where the script is looked for, in order."""
    return (
        os.path.join(context.config_dir, "resource.d", script),
        os.path.join(context.heartbeat_dir, "resource.d", script),
        os.path.join(context.init_dir, script),
    )


def find_executable(candidates: tuple[str, ...]) -> str | None:
    """The first of `candidates` that is an executable file, if any."""
    return next((path for path in candidates if os.path.isfile(path) and os.access(path, os.X_OK)), None)


def _status_outcome(completed: Completed) -> Outcome:
    return status_from_text(completed.stdout)


@implementer(IResourceAgent)
class ScriptAgent:
    """One resource run by a `resource.d` or init script, looked up anew for every operation."""

    def __init__(self, resource: Resource, context: AgentContext) -> None:
        self.resource = resource
        self._context = context
        self._candidates = script_candidates(context, resource.script)
        self._policy = context.settings.policy(resource.text)

    @property
    def path(self) -> str:
        """The script that runs the operations, or its bare name while none is found."""
        return find_executable(self._candidates) or self.resource.script

    def start(self) -> Deferred[OperationResult]:
        """`<script> [args...] start`; exit status 0 is success."""
        return self._run("start", self._policy.start_timeout_ms)

    def stop(self) -> Deferred[OperationResult]:
        """`<script> [args...] stop`; exit status 0 is success."""
        return self._run("stop", self._policy.stop_timeout_ms)

    def status(self) -> Deferred[OperationResult]:
        """`<script> [args...] status`, judged from the text it prints."""
        return self._run("status", self._policy.monitor_timeout_ms)

    def _run(self, operation: str, timeout_ms: int) -> Deferred[OperationResult]:
        script = find_executable(self._candidates)
        if script is None:
            places = ", ".join(self._candidates)
            return not_run(operation, f"no executable script {self.resource.script} in {places}")
        judge = _status_outcome if operation == "status" else exit_zero
        argv = (script, *self.resource.args, operation)
        env = base_environment(self._context)
        return run_operation(self._context, operation, argv, env, timeout_ms, judge)
