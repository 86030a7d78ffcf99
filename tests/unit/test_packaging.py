"""Tests of the installed commands, run as real processes from this Python environment."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TWISTD = str(BIN / "twistd")
HBCTL = str(BIN / "hbctl")
FOREGROUND = ["-n", "--pidfile=", "--logfile=-"]
INVALID = "hbtwist: configuration invalid, not starting"


def run(
    args: Sequence[str], cwd: Path, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `args` in `cwd` with `env` added to this environment, capturing text output."""
    return subprocess.run(
        args,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def assert_refused(result: subprocess.CompletedProcess[str]) -> None:
    """`result` is the daemon refusing the bad configuration: status 2, FILE:LINE:, no trace."""
    assert result.returncode == 2, result
    assert re.search(r"ha\.cf:3: ", result.stderr), result.stderr
    assert result.stderr.splitlines()[-1] == INVALID
    assert "Traceback" not in result.stdout + result.stderr


def test_twistd_help_lists_options(tmp_path: Path) -> None:
    """`twistd heartbeat --help` finds the plugin, exits 0 and lists the options."""
    result = run([TWISTD, "heartbeat", "--help"], tmp_path)
    assert result.returncode == 0, result
    assert "--config-dir" in result.stdout
    assert "--node-name" in result.stdout


def test_twistd_bad_config(tmp_path: Path, bad_config_dir: Path) -> None:
    """`twistd -n heartbeat` on an invalid configuration exits 2 with FILE:LINE: lines."""
    assert_refused(
        run([TWISTD, *FOREGROUND, "heartbeat", "--config-dir", str(bad_config_dir)], tmp_path)
    )


def test_python_m_hbtwist_bad_config(tmp_path: Path, bad_config_dir: Path) -> None:
    """`python -m hbtwist` refuses an invalid configuration exactly like twistd."""
    args = [sys.executable, "-m", "hbtwist", *FOREGROUND, "--config-dir", str(bad_config_dir)]
    assert_refused(run(args, tmp_path))


def test_python_m_hbtwist_help(tmp_path: Path) -> None:
    """`python -m hbtwist --config-dir X --help` shows the heartbeat options."""
    result = run([sys.executable, "-m", "hbtwist", "--config-dir", "x", "--help"], tmp_path)
    assert result.returncode == 0, result
    assert "--state-dir" in result.stdout


def test_tac_bad_config(tmp_path: Path, bad_config_dir: Path) -> None:
    """`twistd -ny tac/heartbeat.tac` refuses an invalid configuration with status 2."""
    tac = str(REPO / "tac" / "heartbeat.tac")
    assert_refused(
        run([TWISTD, *FOREGROUND, "-y", tac], tmp_path, {"HBTWIST_CONFIG_DIR": str(bad_config_dir)})
    )


def test_hbctl_script_bad_config(tmp_path: Path, bad_config_dir: Path) -> None:
    """The installed `hbctl` console script exits 2 on an invalid configuration."""
    result = run([HBCTL, "check", str(bad_config_dir)], tmp_path)
    assert result.returncode == 2, result
    assert re.search(r"ha\.cf:3: ", result.stderr)
    assert "Traceback" not in result.stderr


def answers(control: Path) -> bool:
    """Whether a daemon's event loop answers `Version` on the control socket `control` (a socket
    accepts connections as soon as it listens, but only a running loop answers)."""
    request = b"\x00\x04_ask\x00\x011\x00\x08_command\x00\x07Version\x00\x00"
    try:
        with socket.socket(socket.AF_UNIX) as client:
            client.settimeout(5)
            client.connect(str(control))
            client.sendall(request)
            return client.recv(65536).startswith(b"\x00\x07_answer")
    except OSError:
        return False


def test_twistd_starts_and_stops(tmp_path: Path, config_dir: Path, local_node: str) -> None:
    """With a valid configuration `twistd -n heartbeat` starts, and once running shuts down
    cleanly on SIGTERM, removing its control socket."""
    log, control = tmp_path / "twistd.log", tmp_path / "control.sock"
    options = ["--config-dir", str(config_dir), "--state-dir", str(tmp_path)]
    options += ["--control-socket", str(control)]
    args = [TWISTD, "-n", "--pidfile=", f"--logfile={log}", "heartbeat", *options]
    args += ["--node-name", local_node]
    with subprocess.Popen(args, cwd=tmp_path, stderr=subprocess.PIPE, text=True) as process:
        try:
            deadline = time.monotonic() + 30
            # Running, with its signal handlers installed: the loop answers on the control socket.
            while not answers(control):
                if process.poll() is not None:
                    pytest.fail(f"twistd exited {process.returncode}: {process.communicate()[1]}")
                assert time.monotonic() < deadline, "twistd did not start"
                time.sleep(0.05)
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == -signal.SIGTERM  # twistd re-raises the signal
        finally:
            process.kill()
    text = log.read_text()
    assert "Received SIGTERM, shutting down." in text
    assert text.rstrip().endswith("Server Shut Down.")
    assert "Traceback" not in text
    assert not control.exists()


def test_no_package_init_in_plugin_dirs() -> None:
    """twisted/ and twisted/plugins/ have no __init__.py (it would hide or break Twisted)."""
    assert not (REPO / "twisted" / "__init__.py").exists()
    assert not (REPO / "twisted" / "plugins" / "__init__.py").exists()
