"""Resetting a node through cluster-glue's `stonith` command (Debian package cluster-glue).

`stonith -t TYPE -p PARAMETERS -T reset -- NODE` (`-F FILE` instead of `-p` for ha.cf's
`stonith TYPE FILE`) runs as a child process in its own session, through the reactor, with a
timeout that kills its whole process group (`process.run_command`); no shell is involved. Its
exit status is the STONITH library's answer: 0 the node was reset (`OK`), 4 the device cannot
reset that node (`badhost`); any other status, a timeout or a failure to run it is `bad`.

The command line is built from ha.cf alone, but for the node name, which must be one of ha.cf's
nodes (`--` keeps it from being read as an option).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from twisted.internet.defer import CancelledError, Deferred, succeed
from twisted.python.failure import Failure

from hbtwist.config.checks import STONITH_PROGRAM
from hbtwist.config.model import StonithDevice
from hbtwist.resources.operation import PATH
from hbtwist.resources.process import Command, Completed, run_command

RESET_TIMEOUT_MS = 120_000
"""How long one reset may take: power switches and management boards answer in seconds, but the
`external/ssh` kind waits for the host to stop answering pings."""
S_BADHOST = 4
"""The STONITH library's exit status for "this device cannot reset that host"."""


@dataclass(frozen=True)
class ResetOutcome:
    """How one reset ended: Heartbeat's result word, and what the command said."""

    result: str
    """`OK`, `bad` or `badhost`."""
    detail: str
    """How the command ended (`exit code 5`, `timed out after ...`) and its last line."""
    duration_ms: int


def reset_command(device: StonithDevice, node: str, program: str = STONITH_PROGRAM) -> tuple[str, ...]:
    """The argv that resets `node` with `device`."""
    if device.config_file is not None:
        source = ("-F", device.config_file)
    else:
        source = ("-p", device.parameters or "")
    return (program, "-t", device.type, *source, "-T", "reset", "--", node)


def outcome_of(completed: Completed) -> ResetOutcome:
    """Heartbeat's result for one finished `stonith` run."""
    if completed.succeeded:
        result = "OK"
    elif completed.exit_code == S_BADHOST and not completed.timed_out:
        result = "badhost"
    else:
        result = "bad"
    line = completed.last_line()
    detail = f"{completed.describe()}: {line}" if line else completed.describe()
    return ResetOutcome(result, detail, completed.duration_ms)


class Fencer:
    """Resets nodes with this node's STONITH device, one child process per reset."""

    def __init__(
        self,
        device: StonithDevice,
        nodes: Collection[str],
        reactor: Any,
        *,
        program: str = STONITH_PROGRAM,
        timeout_ms: int = RESET_TIMEOUT_MS,
    ) -> None:
        self.device = device
        self._nodes = frozenset(nodes)
        self._reactor = reactor
        self._program = program
        self._timeout_ms = timeout_ms
        self._running: set[Deferred[Completed]] = set()

    def reset(self, node: str) -> Deferred[ResetOutcome]:
        """Reset `node`; the Deferred fires with the outcome, never with an error. A node that is
        not one of ha.cf's is refused without running anything (`badhost`)."""
        if node not in self._nodes:
            return succeed(ResetOutcome("badhost", f"{node!r} is not a configured node", 0))
        argv = reset_command(self.device, node, self._program)
        command = Command(argv, {"PATH": PATH}, self._timeout_ms)
        done = run_command(self._reactor, self._reactor, command)
        self._running.add(done)
        outcome = done.addCallback(outcome_of)
        outcome.addErrback(_cancelled)
        outcome.addBoth(self._forget, done)
        return outcome

    def _forget(self, outcome: ResetOutcome, done: Deferred[Completed]) -> ResetOutcome:
        self._running.discard(done)
        return outcome

    def cancel(self) -> None:
        """Kill every reset still running (shutdown): each ends as `bad`, `cancelled`."""
        for done in list(self._running):
            done.cancel()


def _cancelled(failure: Failure) -> ResetOutcome:
    failure.trap(CancelledError)
    return ResetOutcome("bad", "cancelled", 0)
