"""Tests for `twistd heartbeat` options, configuration loading and service wiring."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from twisted.application.service import MultiService

from hbtwist.__main__ import twistd_arguments
from hbtwist.daemon import startup, tap


def parse(*args: str) -> tap.Options:
    """Options parsed from `args`."""
    options = tap.Options()
    options.parseOptions(list(args))
    return options


def test_defaults() -> None:
    """Without flags the daemon reads /etc/ha.d, keeps state in /var/lib/hbtwist, names itself."""
    options = tap.Options()
    assert options["config-dir"] == "/etc/ha.d"
    assert options["state-dir"] == "/var/lib/hbtwist"
    assert options["node-name"] is None


def test_flags(config_dir: Path, tmp_path: Path, local_node: str) -> None:
    """--config-dir, --state-dir and --node-name are parsed and the configuration is loaded."""
    options = parse(
        "--config-dir", str(config_dir), "--state-dir", str(tmp_path), "--node-name", local_node
    )
    assert options["config-dir"] == str(config_dir)
    assert options["state-dir"] == str(tmp_path)
    assert options["config"].local_node == local_node


def test_help_lists_options() -> None:
    """The help text names every option."""
    text = str(tap.Options())
    for flag in ("--config-dir", "--state-dir", "--node-name"):
        assert flag in text


def test_bad_config_exits_2(bad_config_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An invalid configuration exits with status 2 after FILE:LINE: lines, with no usage text."""
    with pytest.raises(SystemExit) as raised:
        parse("--config-dir", str(bad_config_dir), "--node-name", "alpha")
    assert raised.value.code == 2
    out, err = capsys.readouterr()
    assert re.search(r"ha\.cf:3: ", err)
    assert err.splitlines()[-1] == "hbtwist: configuration invalid, not starting"
    assert out == ""


def test_missing_config_dir_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A configuration directory that does not exist is a reported problem, not a crash."""
    with pytest.raises(SystemExit) as raised:
        parse("--config-dir", str(tmp_path / "absent"), "--node-name", "alpha")
    assert raised.value.code == 2
    assert "absent" in capsys.readouterr().err


def test_make_service(config_dir: Path, tmp_path: Path, local_node: str) -> None:
    """makeService returns the MultiService "heartbeat": the node, then its control socket."""
    socket = str(tmp_path / "control.sock")
    options = parse(
        "--config-dir", str(config_dir), "--state-dir", str(tmp_path), "--node-name", local_node,
        "--control-socket", socket,
    )  # fmt: skip
    service = tap.makeService(options)
    assert isinstance(service, MultiService)
    assert service.name == "heartbeat"
    assert service.config is options["config"]
    assert service.state_dir == str(tmp_path)
    assert [type(child).__name__ for child in service][0] == "NodeService"
    assert len(list(service)) == 2


def test_daemon_options_from_option_values() -> None:
    """Option values become DaemonOptions; `none` disables, client names split on commas."""
    values = {"control-socket": "none", "metrics": "tcp:9694", "tls-client-name": "a, b"}
    options = startup.daemon_options(values.get)
    assert options.control_socket is None
    assert options.metrics == "tcp:9694"
    assert options.tls_client_names == ("a", "b")
    assert options.manhole is None


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], ["heartbeat"]),
        (["-n", "--pidfile="], ["-n", "--pidfile=", "heartbeat"]),
        (["-n", "--config-dir", "d"], ["-n", "heartbeat", "--config-dir", "d"]),
        (["--logfile=-", "--node-name=a"], ["--logfile=-", "heartbeat", "--node-name=a"]),
        (["-n", "heartbeat", "--state-dir", "s"], ["-n", "heartbeat", "--state-dir", "s"]),
        (["--node-name", "heartbeat"], ["heartbeat", "--node-name", "heartbeat"]),
    ],
)
def test_launcher_arguments(args: list[str], expected: list[str]) -> None:
    """`python -m hbtwist` puts the heartbeat sub-command before the first heartbeat option."""
    assert twistd_arguments(args) == expected
