"""One command as a child process: exit status, bounded output, its own session, the timeout
that kills its whole process group, and cancellation. Real processes, run on the real reactor in
a child Python (tests/unit/agents/driver.py)."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

from tests.unit.agents.driver import SENTINEL, run_in_reactor

SH = "/bin/sh"
ENV = {"PATH": "/usr/bin:/bin"}


def run(argv: list[str], timeout_ms: int = 5_000, **options: Any) -> dict[str, Any]:
    """Run argv with the fixed test environment; the run's result as a dict."""
    spec = {"kind": "command", "argv": argv, "env": ENV, "timeout_ms": timeout_ms, **options}
    answer: dict[str, Any] = run_in_reactor(spec)
    return answer


def script(tmp_path: Path, name: str, body: str) -> str:
    """An executable /bin/sh script in tmp_path; its path."""
    path = tmp_path / name
    path.write_text(f"#!/bin/sh\n{body}")
    path.chmod(0o755)
    return str(path)


def gone(pid: int) -> bool:
    """Whether process `pid` no longer runs (it does not exist, or it is a zombie)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state == "Z"


def test_exit_status_and_both_outputs_are_reported() -> None:
    """The exit status, standard output and standard error come back, apart, with a duration."""
    result = run([SH, "-c", "echo out; echo err >&2; exit 3"])
    assert result["exit_code"] == 3 and result["signal"] is None
    assert result["stdout"] == "out\n" and result["stderr"] == "err\n"
    assert not result["timed_out"] and result["error"] is None
    assert 0 <= result["duration_ms"] < 5_000


def test_output_keeps_only_its_last_bytes() -> None:
    """Output beyond the bound is dropped from the front: the last `limit` bytes are kept."""
    result = run([SH, "-c", "seq 1 20000; echo last"], limit=1024)
    assert len(result["stdout"]) == 1024
    assert result["stdout"].endswith("19999\n20000\nlast\n")


def test_environment_is_only_what_was_given() -> None:
    """The child sees exactly the configured environment, nothing of the daemon's own."""
    result = run(["/usr/bin/env"])
    assert sorted(result["stdout"].splitlines()) == ["PATH=/usr/bin:/bin"]
    assert SENTINEL not in result["stdout"]


def test_child_leads_its_own_session_and_process_group() -> None:
    """The child's session id and process group id are its own pid."""
    result = run([SH, "-c", 'echo $$; sed "s/.*) //" /proc/$$/stat | cut -d" " -f3,4'])
    pid, ids = result["stdout"].splitlines()
    assert ids.split() == [pid, pid]


def test_hung_script_and_its_children_are_killed_at_the_timeout(tmp_path: Path) -> None:
    """At the timeout the whole group gets SIGTERM, and SIGKILL after the grace: a child that
    ignores SIGTERM dies too, and the result says timed out."""
    pidfile = tmp_path / "child.pid"
    hung = script(
        tmp_path,
        "hung",
        f"(trap '' TERM; exec sleep 30) &\necho $! > {pidfile}\necho started\nsleep 30\n",
    )
    result = run([hung], timeout_ms=300, grace_ms=300)
    assert result["timed_out"] and result["exit_code"] is None
    assert result["signal"] == signal.SIGTERM
    assert result["stdout"] == "started\n"
    assert 600 <= result["duration_ms"] < 3_000, "the result waits for the SIGKILL of the group"
    assert gone(int(pidfile.read_text()))


def test_background_child_holding_the_pipes_does_not_hold_the_result(tmp_path: Path) -> None:
    """A start script that leaves a daemon behind (holding its output pipe) ends at its own exit,
    and the daemon is not killed."""
    pidfile = tmp_path / "daemon.pid"
    result = run([SH, "-c", f"sleep 30 & echo $! > {pidfile}; echo started"])
    daemon = int(pidfile.read_text())
    try:
        assert result["exit_code"] == 0 and result["stdout"] == "started\n"
        assert result["duration_ms"] < 2_000
        assert not gone(daemon)
    finally:
        os.kill(daemon, signal.SIGKILL)


def test_cancel_kills_the_group_at_once(tmp_path: Path) -> None:
    """Cancelling the run (shutdown) kills the whole process group without waiting."""
    pidfile = tmp_path / "child.pid"
    hung = script(tmp_path, "hung", f"(trap '' TERM; exec sleep 30) &\necho $! > {pidfile}\nsleep 30\n")
    result = run([hung], timeout_ms=10_000, cancel_after_ms=300)
    assert result == {"cancelled": "CancelledError"}
    assert gone(int(pidfile.read_text()))


def test_command_that_cannot_be_executed_fails() -> None:
    """A command that does not exist ends with a failure status and says why on stderr."""
    result = run(["/nonexistent/command"])
    assert result["exit_code"] not in (0, None)
    assert "/nonexistent/command" in result["stderr"]
