"""One command run as a child process through the reactor, in its own session, with a timeout.

The child runs under `setsid`, so it leads a new session and process group: at its timeout the
whole group gets SIGTERM and, a grace period later, SIGKILL (a hung script and everything it
started die together). Standard output and error are kept as their last few KiB. The reactor
reaps the child. The result comes when the child has exited and its pipes are closed; or a short
linger after its exit if something it started in the background still holds them (a daemon
started by a start script is not killed, and whatever it writes later is read and dropped); or,
after a timeout, when the pipes close or at the SIGKILL.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Mapping
from dataclasses import dataclass

from twisted.internet import protocol
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorProcess, IReactorTime
from twisted.python.failure import Failure

SETSID = "/usr/bin/setsid"
"""util-linux `setsid`: runs the command as the leader of a new session (no fork needed)."""
GRACE_MS = 2_000
"""Between SIGTERM and SIGKILL of a timed-out process group."""
OUTPUT_LIMIT = 4_096
"""Bytes kept of standard output and of standard error: the last ones written."""
LINGER_MS = 100
"""How long the output is still read after the child exited while its pipes stay open."""


@dataclass(frozen=True)
class Command:
    """What to run: argv and environment, built only from configuration."""

    argv: tuple[str, ...]
    env: Mapping[str, str]
    timeout_ms: int
    cwd: str = "/"


@dataclass(frozen=True)
class Completed:
    """How one run ended."""

    exit_code: int | None
    """The exit status; None when the child was killed by a signal or could not be run."""
    signal: int | None
    """The signal that killed the child, if one did."""
    stdout: str
    stderr: str
    duration_ms: int
    timed_out: bool
    error: str | None = None
    """Why the child could not be run at all."""

    @property
    def succeeded(self) -> bool:
        """Whether the child exited with status 0 within its timeout."""
        return self.exit_code == 0 and not self.timed_out

    def last_line(self) -> str:
        """The last non-empty line of standard output, else of standard error."""
        for text in (self.stdout, self.stderr):
            lines = [line.strip() for line in text.splitlines() if line.strip()]
            if lines:
                return lines[-1]
        return ""

    def describe(self) -> str:
        """How the child ended, in words: `exit code 1`, `killed by signal 9`, ..."""
        if self.error is not None:
            return f"could not run: {self.error}"
        if self.timed_out:
            return f"timed out after {self.duration_ms} ms"
        if self.signal is not None:
            return f"killed by signal {self.signal}"
        return f"exit code {self.exit_code}"


class _Tail:
    """The last `limit` bytes written to one pipe."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._data = bytearray()

    def add(self, data: bytes) -> None:
        self._data += data
        if len(self._data) > self._limit:
            del self._data[: len(self._data) - self._limit]

    def text(self) -> str:
        return self._data.decode("utf-8", errors="replace")


class _Child(protocol.ProcessProtocol):
    """Watches one child: output, exit, timeout and the kill of its process group."""

    def __init__(self, clock: IReactorTime, command: Command, grace_ms: int, limit: int) -> None:
        self.done: Deferred[Completed] = Deferred(self._cancel)
        self._clock = clock
        self._grace = grace_ms / 1000
        self._stdout = _Tail(limit)
        self._stderr = _Tail(limit)
        self._started = clock.seconds()
        self._timer: IDelayedCall | None = clock.callLater(command.timeout_ms / 1000, self._timeout)
        self._kill_timer: IDelayedCall | None = None
        self._linger: IDelayedCall | None = None
        self._timed_out = False
        self._status: BaseException | None = None
        self._finished = False
        self._group: int | None = None
        """The child's pid, which `setsid` makes the id of its session and process group."""

    def connectionMade(self) -> None:  # noqa: N802
        """The child has nothing to read: its standard input is closed at once."""
        assert self.transport is not None
        pid = getattr(self.transport, "pid", None)
        self._group = pid if isinstance(pid, int) and pid > 0 else None
        self.transport.closeStdin()

    def outReceived(self, data: bytes) -> None:  # noqa: N802
        """Keep the tail of standard output."""
        self._stdout.add(data)

    def errReceived(self, data: bytes) -> None:  # noqa: N802
        """Keep the tail of standard error."""
        self._stderr.add(data)

    def processExited(self, reason: Failure) -> None:  # noqa: N802
        """The child was reaped: the result follows once its pipes close (or after the linger),
        or, after a timeout, once the rest of its group got SIGKILL."""
        self._status = reason.value
        self._stop(self._timer)
        self._timer = None
        if self._kill_timer is None and not self._finished:
            self._linger = self._clock.callLater(LINGER_MS / 1000, self._finish)

    def processEnded(self, reason: Failure) -> None:  # noqa: N802
        """Exited and every pipe closed: the result (a SIGKILL still due after a timeout is sent
        all the same, for whatever of the group closed its output and lives on)."""
        self._status = reason.value
        self._finish()

    def fail(self, problem: str) -> None:
        """The child could not be started."""
        self._stop(self._timer)
        self._timer = None
        self._finished = True
        self.done.callback(self._completed(problem))

    def _timeout(self) -> None:
        self._timer = None
        self._timed_out = True
        self._signal_group(signal.SIGTERM)
        self._kill_timer = self._clock.callLater(self._grace, self._kill)

    def _kill(self) -> None:
        self._kill_timer = None
        self._signal_group(signal.SIGKILL)
        if self._status is not None:
            self._finish()

    def _cancel(self, _: Deferred[Completed]) -> None:
        """The caller gave up on the run (shutdown): a child still running is killed at once with
        its whole process group (what an exited child left running in the background is not)."""
        self._finished = True
        for call in (self._timer, self._kill_timer, self._linger):
            self._stop(call)
        self._timer = self._kill_timer = self._linger = None
        if self._status is None:
            self._signal_group(signal.SIGKILL)

    def _finish(self) -> None:
        self._stop(self._linger)
        self._linger = None
        if self._finished:
            return
        self._finished = True
        self.done.callback(self._completed(None))

    def _completed(self, problem: str | None) -> Completed:
        status = self._status
        return Completed(
            exit_code=getattr(status, "exitCode", None) if problem is None else None,
            signal=getattr(status, "signal", None),
            stdout=self._stdout.text(),
            stderr=self._stderr.text(),
            duration_ms=round((self._clock.seconds() - self._started) * 1000),
            timed_out=self._timed_out,
            error=problem,
        )

    def _signal_group(self, number: int) -> None:
        """Signal the child's process group, or the child alone before `setsid` made the group
        (never once the child was reaped: its pid may belong to another process by then)."""
        if self._group is None:
            return
        try:
            os.killpg(self._group, number)
        except OSError:
            if self._status is None:
                self._signal_child(self._group, number)

    @staticmethod
    def _signal_child(pid: int, number: int) -> None:
        try:
            os.kill(pid, number)
        except OSError:
            return

    @staticmethod
    def _stop(call: IDelayedCall | None) -> None:
        if call is not None and call.active():
            call.cancel()


def run_command(
    reactor: IReactorProcess,
    clock: IReactorTime,
    command: Command,
    *,
    grace_ms: int = GRACE_MS,
    limit: int = OUTPUT_LIMIT,
    setsid: str = SETSID,
) -> Deferred[Completed]:
    """Run `command` in a new session; the Deferred fires with how it ended, never with an error.

    Cancelling the Deferred kills the whole process group at once.
    """
    child = _Child(clock, command, grace_ms, limit)
    try:
        reactor.spawnProcess(
            child,
            setsid,
            (setsid, *command.argv),
            env=dict(command.env),
            path=command.cwd,
            usePTY=False,
        )
    except OSError as problem:
        child.fail(problem.strerror or str(problem))
    return child.done
