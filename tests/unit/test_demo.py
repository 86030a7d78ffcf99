"""`make demo`: its configuration, its echo service, its client, its log lines and a whole run."""

from __future__ import annotations

import select
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from demo.client import PROBE_INTERVAL, Change, Client, Tally, describe
from demo.echo import ECHO_PATH, running_pid
from demo.nodes import GROUP, free_udp_port, shown, write_node
from hbtwist.config import load_config

ROOT = Path(__file__).resolve().parents[2]


def echo(run_dir: Path, node: str, port: int, action: str) -> subprocess.CompletedProcess[str]:
    """Run one action of the echo service as a resource script, with no environment, in /."""
    command = [sys.executable, str(ECHO_PATH), node, str(port), str(run_dir), action]
    return subprocess.run(command, capture_output=True, text=True, env={}, cwd="/", timeout=30)


def ask(port: int) -> bytes | None:
    """One datagram to 127.0.0.1:port; the answer, or None within 2 s (or refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect(("127.0.0.1", port))
        sock.settimeout(2.0)
        sock.send(b"which node?")
        try:
            return sock.recv(512)
        except OSError:
            return None


@pytest.fixture
def run_dirs(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """Two nodes' run directories; any echo server left in them is stopped afterwards."""
    dirs = (tmp_path / "n1", tmp_path / "n2")
    for run_dir in dirs:
        run_dir.mkdir()
    yield dirs
    for run_dir in dirs:
        echo(run_dir, "n0", 1, "stop")


def test_describe_merges_runs_of_the_same_answer():
    """A second's answers read as runs in order, no answer included."""
    assert describe(["n1", "n1", None, None, "n2"]) == "n1 answers, then no answer, then n2 answers"
    assert describe([None]) == "no answer"
    assert describe([]) == "no probe"


def test_tally_records_changes_and_lines():
    """The first answer is no change; each later change is kept; a line empties the second."""
    tally = Tally()
    assert tally.record(1.0, "n1") is None
    assert tally.record(1.1, "n1") is None
    assert tally.record(1.2, None) == Change(1.2, "n1", None)
    assert tally.record(1.5, "n2") == Change(1.5, None, "n2")
    assert tally.line() == "n1 answers, then no answer, then n2 answers"
    assert tally.line() == "no probe"
    assert tally.first_answer(1.0, "n2") == 1.5
    assert tally.first_answer(1.0, None) == 1.2
    assert tally.first_answer(1.3, None) is None


def test_client_counts_answers_and_silence():
    """The client names the node that answered, and counts a probe unanswered by the next as none."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind(("127.0.0.1", 0))
        client = Client(server.getsockname()[1], now=0.0)
        try:
            assert client.tick(0.0) == ([], None)
            data, peer = server.recvfrom(512)
            server.sendto(b"n7", peer)
            select.select([client], [], [], 2.0)
            assert client.receive() == []
            assert client.tally.last == "n7"
            client.tick(PROBE_INTERVAL)
            changes, line = client.tick(2 * PROBE_INTERVAL)
            assert changes == [Change(PROBE_INTERVAL, "n7", None)]
            assert line is None
            _, line = client.tick(1.0)
            assert line == "n7 answers, then no answer"
        finally:
            client.close()


def test_client_counts_a_closed_port_as_no_answer():
    """A probe refused by a closed port is no answer at once, before the next probe is due."""
    client = Client(free_udp_port(("127.0.0.1",)), now=0.0)
    try:
        client.tick(0.0)
        select.select([client], [], [], 2.0)
        client.receive()
        assert (client.tally.started, client.tally.last, client.sent_at) == (True, None, None)
        assert client.tally.line() == "no answer"
    finally:
        client.close()


def test_echo_service_only_one_node_holds_the_port(run_dirs):
    """start serves the node's name; a second node cannot start on the same port; stop frees it;
    status says running or stopped."""
    first, second = run_dirs
    port = free_udp_port(("127.0.0.1",))
    assert echo(first, "n1", port, "status").stdout == "stopped\n"
    assert echo(first, "n1", port, "start").returncode == 0
    assert echo(first, "n1", port, "status").stdout == "running\n"
    assert ask(port) == b"n1"
    refused = echo(second, "n2", port, "start")
    assert refused.returncode == 1
    assert "cannot bind" in refused.stdout
    assert echo(second, "n2", port, "status").stdout == "stopped\n"
    assert echo(first, "n1", port, "stop").returncode == 0
    assert echo(first, "n1", port, "status").stdout == "stopped\n"
    assert running_pid(first) is None
    assert ask(port) is None
    assert echo(second, "n2", port, "start").returncode == 0
    assert ask(port) == b"n2"


def test_stop_of_a_stopped_service_succeeds(run_dirs):
    """stop with nothing running succeeds, as a resource script's stop must."""
    assert echo(run_dirs[0], "n1", 1, "stop").returncode == 0


def test_node_configuration_is_valid_and_runs_the_echo_script(tmp_path):
    """The demo's configuration loads cleanly with the fast timers, one group on n1 and auto
    failback on; its resource.d script runs the echo service with no environment."""
    write_node("n2", tmp_path / "n2", 7694, free_udp_port(("127.0.0.1",)))
    config = load_config(tmp_path / "n2" / "ha.d", local_node="n2")
    assert (config.hacf.keepalive_ms, config.hacf.deadtime_ms) == (50, 300)
    assert config.hacf.auto_failback.value == "on"
    assert [(g.preferred_node, g.key) for g in config.resources] == [("n1", GROUP)]
    assert config.settings.default.monitor_interval_ms == 1000
    assert config.warnings == ()
    script = tmp_path / "n2" / "ha.d" / "resource.d" / GROUP
    status = subprocess.run([script, "status"], capture_output=True, text=True, env={}, cwd="/")
    assert (status.returncode, status.stdout) == (0, "stopped\n")


def test_shown_keeps_what_the_demo_is_about():
    """Log lines: other nodes active or dead, group states and holders, starts and stops."""
    assert shown("n2", {"event": "node_status_changed", "node": "n1", "new": "dead"}) == "sees n1 dead"
    assert shown("n2", {"event": "node_status_changed", "node": "n2", "new": "active"}) is None
    assert shown("n2", {"event": "node_status_changed", "node": "n1", "new": "up"}) is None
    held = {"event": "group_state_changed", "group": GROUP, "old": "stopped", "new": "stopped"}
    assert shown("n3", {**held, "holder": "n2"}) == f"learns {GROUP} is held by n2"
    assert shown("n3", {**held, "holder": None}) == f"learns {GROUP} is held by nobody"
    moved = {"event": "group_state_changed", "group": GROUP, "old": "starting", "new": "running"}
    assert shown("n2", moved) == f"{GROUP} starting -> running"
    operation = {"event": "resource_operation", "resource": GROUP, "duration_ms": 80}
    started = {**operation, "operation": "start", "result": "ok"}
    assert shown("n2", started) == f"{GROUP} start ok in 80 ms"
    failed = {**operation, "operation": "start", "result": "failed", "detail": "exit code 1: x"}
    assert shown("n2", failed) == f"{GROUP} start failed in 80 ms: exit code 1: x"
    assert shown("n2", {**operation, "operation": "status", "result": "ok"}) is None
    assert shown("n2", {"text": "no event"}) is None


def test_demo_moves_the_service_and_back():
    """A whole run: n1 serves, n2 answers within 2 s of n1's death (about 0.5 s unloaded), n1
    serves again after it is back, and everything is stopped; exit status 0."""
    run = subprocess.run(
        [sys.executable, "-m", "demo.cluster", "--show", "0.5"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=100,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "client: n1 answers now" in run.stdout
    assert "client: n2 answers now" in run.stdout
    assert "Demo complete." in run.stdout
    takeover = next(line for line in run.stdout.splitlines() if "n1 killed at" in line)
    assert float(takeover.split(" answered ")[1].split(" s ")[0]) < 2.0, takeover
