"""A medium from another distribution: two real daemons heartbeating over `unixdgram` alone.

The `hbtwist-unixdgram` distribution (tests/plugins/hbtwist-unixdgram, installed into the
virtualenv by `make venv`) ships only `hbtwist/plugins/unixdgram_medium.py` and its own module;
nothing of hbtwist knows about it. Both nodes run on this host (no namespaces, no root).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.shell import run, stop_process
from tests.prereq import require

NODES = ("alpha", "beta")
TWISTD = str(Path(sys.executable).parent / "twistd")
HBCTL = [str(Path(sys.executable).parent / "hbctl")]
WAIT_SECONDS = 30.0


def ha_cf(own: Path, peer: Path) -> str:
    """ha.cf of one node: fast timers, the unixdgram medium only."""
    return (
        "keepalive 200ms\ndeadtime 2\nwarntime 1\ninitdead 10\n"
        f"unixdgram {own} {peer}\nnode alpha beta\nauto_failback on\n"
    )


@pytest.fixture
def workdir() -> Iterator[Path]:
    """A short directory for the sockets (UNIX socket paths are limited to 107 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="hbu-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def write_node(workdir: Path, name: str) -> Path:
    """The configuration directory of node `name`."""
    peer = NODES[1 - NODES.index(name)]
    config = workdir / name / "ha.d"
    config.mkdir(parents=True)
    (config / "ha.cf").write_text(ha_cf(workdir / f"{name}.sock", workdir / f"{peer}.sock"))
    keys = config / "authkeys"
    keys.write_text("auth 1\n1 sha1 plugin-test\n")
    keys.chmod(0o600)
    return config


def start_daemon(workdir: Path, name: str) -> subprocess.Popen[Any]:
    """`twistd -n heartbeat` for node `name`, logging to workdir/NAME/twistd.log."""
    home = workdir / name
    argv = [
        TWISTD, "-n", "--pidfile=", "--logfile", str(home / "twistd.log"), "heartbeat",
        "--config-dir", str(home / "ha.d"), "--state-dir", str(home),
        "--node-name", name, "--control-socket", str(home / "control.sock"),
    ]  # fmt: skip
    err = (home / "twistd.err").open("w")
    return subprocess.Popen(
        argv, stdout=err, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=home
    )


def node_status(workdir: Path, name: str) -> dict[str, str]:
    """What node `name` reports of every node (empty while its control socket is not up)."""
    address = f"unix:{workdir / name / 'control.sock'}"
    result = run([*HBCTL, "--control", address, "nodes", "--json"], check=False)
    if result.returncode != 0:
        return {}
    return {record["name"]: record["status"] for record in json.loads(result.stdout)}


def test_plugin_distribution_installed() -> None:
    """The test medium is installed as its own distribution, outside the hbtwist source tree."""
    spec = importlib.util.find_spec("hbtwist.plugins.unixdgram_medium")
    require(spec is not None, "hbtwist-unixdgram is not installed (run `make venv`)")
    assert spec is not None and spec.origin is not None
    assert not Path(spec.origin).is_relative_to(Path(__file__).parents[2] / "hbtwist")


def test_hbctl_check_accepts_the_plugin_medium(workdir: Path) -> None:
    """`hbctl check` knows the directive from the plugin and runs the plugin's host check."""
    require(importlib.util.find_spec("hbtwist_unixdgram") is not None, "hbtwist-unixdgram missing")
    config = write_node(workdir, "alpha")
    result = run([*HBCTL, "check", str(config), "--node", "alpha"], check=False)
    assert result.returncode == 0, result.stderr
    assert f"unixdgram {workdir / 'alpha.sock'} -> {workdir / 'beta.sock'}" in result.stdout
    (config / "ha.cf").write_text(ha_cf(workdir / "absent" / "a.sock", workdir / "b.sock"))
    result = run([*HBCTL, "check", str(config), "--node", "alpha"], check=False)
    assert result.returncode == 2
    assert result.stderr == (
        f"{config / 'ha.cf'}:5: unixdgram: no folder {workdir / 'absent'} for socket "
        f"{workdir / 'absent' / 'a.sock'}\n"
    )


def test_two_daemons_see_each_other_over_the_plugin_medium(workdir: Path) -> None:
    """Two real twistd daemons whose only medium is unixdgram both report both nodes active,
    and shut down cleanly without a traceback."""
    require(importlib.util.find_spec("hbtwist_unixdgram") is not None, "hbtwist-unixdgram missing")
    for name in NODES:
        write_node(workdir, name)
    daemons = {name: start_daemon(workdir, name) for name in NODES}
    try:
        deadline = time.monotonic() + WAIT_SECONDS
        views: dict[str, dict[str, str]] = {}
        while time.monotonic() < deadline:
            views = {name: node_status(workdir, name) for name in NODES}
            if all(view == {"alpha": "active", "beta": "active"} for view in views.values()):
                break
            assert all(proc.poll() is None for proc in daemons.values()), logs(workdir)
            time.sleep(0.2)
        assert views == {name: {"alpha": "active", "beta": "active"} for name in NODES}, logs(workdir)
    finally:
        for proc in daemons.values():
            stop_process(proc)
    text = logs(workdir)
    assert text.count("Heartbeat shutdown complete.") == 2, text
    assert "Traceback" not in text


def logs(workdir: Path) -> str:
    """Both daemons' logs, for failure messages."""
    parts = []
    for name in NODES:
        for file in ("twistd.err", "twistd.log"):
            path = workdir / name / file
            if path.exists():
                parts.append(f"--- {name}/{file}\n{path.read_text()}")
    return "\n".join(parts)
