"""Running lab commands and processes, always bounded in time."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterable, Sequence
from typing import Any

COMMAND_TIMEOUT = 15.0
STOP_TIMEOUT = 5.0


class LabError(RuntimeError):
    """A lab command failed or a wait ran out of time."""


def run(
    argv: Sequence[str],
    *,
    check: bool = True,
    timeout: float = COMMAND_TIMEOUT,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command to completion (bounded), capturing its output."""
    try:
        result = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise LabError(f"{' '.join(argv)}: no answer within {timeout} s") from error
    if check and result.returncode != 0:
        raise LabError(f"{' '.join(argv)}: exit status {result.returncode}: {result.stderr.strip()}")
    return result


def stop_process(proc: subprocess.Popen[Any], sig: int = signal.SIGTERM) -> None:
    """Signal a child, wait for it (bounded), SIGKILL it if it lingers, and reap it."""
    if proc.poll() is None:
        try:
            proc.send_signal(sig)
            proc.wait(timeout=STOP_TIMEOUT)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            proc.kill()
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass


def stop_processes(procs: Iterable[subprocess.Popen[Any]]) -> None:
    """SIGTERM every running child at once, give them STOP_TIMEOUT together, SIGKILL the rest,
    and reap them all."""
    procs = [proc for proc in procs if proc.poll() is None]
    for proc in procs:
        try:
            proc.terminate()
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + STOP_TIMEOUT
    for proc in procs:
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
    for proc in procs:
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pass


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
