"""What script and OCF operations share: the fixed environment, the run, and its result."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from twisted.internet.defer import Deferred, succeed

from hbtwist.resources.interface import AgentContext, OperationResult, Outcome
from hbtwist.resources.process import Command, Completed, run_command

PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
"""The fixed PATH of every operation (the scripts add Heartbeat's own directories to it)."""

Judge = Callable[[Completed], Outcome]
"""How a finished run that neither timed out nor failed to start is read."""


def base_environment(context: AgentContext) -> dict[str, str]:
    """The environment Heartbeat gives resource scripts, from configuration alone.

    `HA_DIR` is the configuration directory (where the scripts find `ha.cf` and `haresources`);
    `HA_FUNCS` its `shellfuncs`, or Heartbeat's when it has none.
    """
    funcs = os.path.join(context.config_dir, "shellfuncs")
    if not os.path.isfile(funcs):
        funcs = os.path.join(context.heartbeat_dir, "shellfuncs")
    env = {
        "PATH": PATH,
        "HA_DIR": context.config_dir,
        "HA_FUNCS": funcs,
        "HA_debug": str(context.log.debug),
        "OCF_ROOT": context.ocf_root,
        "OCF_AGENTS": os.path.join(context.ocf_root, "resource.d", "heartbeat") + "/",
    }
    if context.log.facility not in (None, "none"):
        env["HA_LOGFACILITY"] = str(context.log.facility)
    if context.log.logfile:
        env["HA_LOGFILE"] = context.log.logfile
    if context.log.debugfile:
        env["HA_DEBUGLOG"] = context.log.debugfile
    return env


def run_operation(
    context: AgentContext,
    operation: str,
    argv: tuple[str, ...],
    env: Mapping[str, str],
    timeout_ms: int,
    judge: Judge,
) -> Deferred[OperationResult]:
    """Run one operation as a child process and judge how it ended."""
    command = Command(argv, env, timeout_ms)
    done = run_command(context.reactor, context.reactor, command)
    return done.addCallback(lambda completed: result_of(operation, completed, judge))


def result_of(operation: str, completed: Completed, judge: Judge) -> OperationResult:
    """The result of a finished run: timed out, not run, or as `judge` reads it."""
    if completed.timed_out:
        outcome = Outcome.TIMEOUT
    elif completed.error is not None:
        outcome = Outcome.FAILED
    else:
        outcome = judge(completed)
    detail = completed.last_line()
    if outcome in (Outcome.FAILED, Outcome.TIMEOUT):
        detail = f"{completed.describe()}: {detail}" if detail else completed.describe()
    return OperationResult(operation, outcome, completed.duration_ms, detail, completed.exit_code)


def exit_zero(completed: Completed) -> Outcome:
    """start and stop: success is exit status 0."""
    return Outcome.OK if completed.exit_code == 0 else Outcome.FAILED


def not_run(operation: str, detail: str) -> Deferred[OperationResult]:
    """An operation that could not even be started (no script, no agent, a bad instance file)."""
    return succeed(OperationResult(operation, Outcome.FAILED, 0, detail))
