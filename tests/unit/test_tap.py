"""Tests for `twistd heartbeat` options, configuration loading and service wiring."""

from __future__ import annotations

import gc
import re
from pathlib import Path
from typing import cast

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from twisted.application.service import Service
from twisted.conch.ssh.factory import SSHFactory
from twisted.web.server import Site

from hbtwist.__main__ import twistd_arguments
from hbtwist.config import ClusterConfig
from hbtwist.control.listener import ListenerService
from hbtwist.control.logfiles import HeartbeatLogService
from hbtwist.control.server import ControlFactory
from hbtwist.daemon import tap
from hbtwist.daemon.node import NodeService
from hbtwist.daemon.options import daemon_options
from hbtwist.daemon.services import HeartbeatService
from tests.conftest import VALID_HA_CF, write_config


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
    """With only a control socket the tree is the node, then the control listener on that path."""
    socket = tmp_path / "control.sock"
    options = parse(
        "--config-dir", str(config_dir), "--state-dir", str(tmp_path / "state"),
        "--node-name", local_node, "--control-socket", str(socket),
    )  # fmt: skip
    service = tap.makeService(options)
    assert isinstance(service, HeartbeatService)
    assert (service.name, service.config, service.state_dir) == (
        "heartbeat",
        options["config"],
        str(tmp_path / "state"),
    )
    assert [(child.name, type(child)) for child in service] == [
        ("node", NodeService),
        ("control-unix", ListenerService),
    ]
    control = list(service)[1]
    assert isinstance(control, ListenerService)
    assert (control.where, control.required) == (f"unix:{socket}", True)
    assert isinstance(control.factory, ControlFactory)
    assert not socket.exists()


def test_service_tree_in_start_order(tmp_path: Path, local_node: str) -> None:
    """Every service asked for is built, named and in start order: Heartbeat's log files, the
    node (its identity from the state directory, its media from ha.cf), then the control
    socket, metrics and manhole listeners; nothing runs or listens yet."""
    config_dir = write_config(tmp_path / "ha.d", ha_cf=VALID_HA_CF + f"logfile {tmp_path}/ha-log\n")
    state_dir = tmp_path / "state"
    keys = tmp_path / "authorized_keys"
    public = ed25519.Ed25519PrivateKey.generate().public_key()
    keys.write_bytes(public.public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH) + b" operator\n")
    options = parse(
        "--config-dir", str(config_dir), "--state-dir", str(state_dir), "--node-name", local_node,
        "--control-socket", str(tmp_path / "control.sock"),
        "--metrics", "tcp:0:interface=127.0.0.1",
        "--manhole", "tcp:0:interface=127.0.0.1", "--manhole-keys", str(keys),
    )  # fmt: skip
    service = tap.makeService(options)
    assert [(child.name, type(child)) for child in service] == [
        ("hblog", HeartbeatLogService),
        ("node", NodeService),
        ("control-unix", ListenerService),
        ("metrics", ListenerService),
        ("manhole", ListenerService),
    ]
    logs, node, control, metrics, manhole = service
    assert isinstance(logs, HeartbeatLogService) and isinstance(node, NodeService)
    assert logs.settings.logfile == f"{tmp_path}/ha-log"
    assert node.config is options["config"]
    assert node.identity.name == local_node
    assert node.identity.uuid == (state_dir / "hb_uuid").read_bytes()
    assert node.identity.generation == int((state_dir / "hb_generation").read_text())
    assert [link.name for link in node.links] == ["lo"]
    assert [(s.where, s.required) for s in (control, metrics, manhole)] == [
        (f"unix:{tmp_path / 'control.sock'}", True),
        ("tcp:0:interface=127.0.0.1", False),
        ("tcp:0:interface=127.0.0.1", False),
    ]
    assert isinstance(control.factory, ControlFactory)
    assert isinstance(metrics.factory, Site) and b"metrics" in metrics.factory.resource.children
    assert isinstance(manhole.factory, SSHFactory)
    assert (state_dir / "manhole_host_key").stat().st_mode & 0o777 == 0o600
    assert not any(child.running for child in service)
    assert all(child.port is None for child in (control, metrics, manhole))


def test_disabled_control_socket_leaves_the_node_alone(config_dir: Path, tmp_path: Path) -> None:
    """`--control-socket none` and no other option: the tree is the node and nothing else."""
    options = parse(
        "--config-dir", str(config_dir), "--state-dir", str(tmp_path), "--node-name", "alpha",
        "--control-socket", "none",
    )  # fmt: skip
    assert [(child.name, type(child)) for child in tap.makeService(options)] == [("node", NodeService)]


def test_daemon_options_from_option_values() -> None:
    """Option values become DaemonOptions; `none` disables, client names split on commas."""
    values = {"control-socket": "none", "metrics": "tcp:9694", "tls-client-name": "a, b"}
    options = daemon_options(values.get)
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


def test_start_freezes_what_start_up_made(tmp_path: Path) -> None:
    """Once the root service has started its children, everything that existed then sits in the
    collector's permanent generation, so no later full collection walks it."""
    config = cast(ClusterConfig, object())
    root = HeartbeatService(config, str(tmp_path / "state"))
    child = Service()
    child.setServiceParent(root)
    root.startService()
    assert child.running
    assert gc.get_freeze_count() > 0
    root.stopService()
