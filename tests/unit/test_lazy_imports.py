"""An ordinary node loads none of the heavy packages its configuration does not use.

Each check runs in a fresh interpreter, since this pytest process has imported them all.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import VALID_HA_CF, write_config

UNUSED = (
    "OpenSSL",
    "cryptography",
    "pyroute2",
    "serial",
    "prometheus_client",
    "twisted.conch",
    "twisted.web",
    "twisted.internet.endpoints",
    "twisted.internet.serialport",
    "hbtwist.control.tls",
    "hbtwist.control.manhole",
    "hbtwist.control.metrics",
    "hbtwist.resources.netlink",
)
"""Loaded only by what an ordinary node does not configure: pyOpenSSL and cryptography for TLS
(withheld from the reactor and AMP, `hbtwist.daemon.withheld`), netlink for a native virtual IP,
a serial medium, metrics, the manhole, the TLS control port and endpoint strings."""

START = """\
import json, sys
from twisted.plugins.hbtwist_plugin import heartbeat

options = heartbeat.options()
options.parseOptions(sys.argv[1:])
root = heartbeat.makeService(options)
root.startService()
from twisted.internet import reactor

loaded = sorted(name for name, module in sys.modules.items() if module)
print(json.dumps({"modules": loaded, "reactor": type(reactor).__name__}))
root.stopService()
"""
"""Builds and starts the daemon's service as `twistd heartbeat` does, without running the
reactor, and prints every loaded module."""


def _free_udp_port() -> int:
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = int(probe.getsockname()[1])
    probe.close()
    return port


def _started(tmp_path: Path) -> dict[str, Any]:
    """The modules loaded and the reactor's class once an ordinary node's service is built and
    started: ucast media, one Heartbeat-script resource, a control socket and nothing else."""
    config_dir = write_config(
        tmp_path / "ha.d",
        ha_cf=VALID_HA_CF.replace("udpport 17694", f"udpport {_free_udp_port()}"),
        haresources="alpha Dummy\n",
    )
    script = config_dir / "resource.d" / "Dummy"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o755)
    arguments = [
        "--config-dir", str(config_dir), "--state-dir", str(tmp_path / "state"),
        "--node-name", "alpha", "--bind-address", "127.0.0.1",
        "--control-socket", str(tmp_path / "control.sock"),
    ]  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-c", START, *arguments],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    started: dict[str, Any] = json.loads(result.stdout)
    return started


def test_an_ordinary_node_loads_no_unused_package(tmp_path: Path) -> None:
    """Building and starting an ordinary node loads neither pyOpenSSL, netlink, pyserial,
    metrics, the manhole, TLS control nor endpoint strings."""
    loaded = _started(tmp_path)["modules"]
    unused = [
        name
        for name in loaded
        for package in UNUSED
        if name == package or name.startswith(package + ".")
    ]
    assert sorted(unused) == []


def test_an_ordinary_node_runs_on_the_heartbeat_reactor(tmp_path: Path) -> None:
    """Started as `twistd heartbeat` starts it (no --reactor), a node runs on HeartbeatReactor."""
    assert _started(tmp_path)["reactor"] == "HeartbeatReactor"
