"""The demo's nodes: their configuration directories, their daemons, and their log lines."""

from __future__ import annotations

import shlex
import socket
import subprocess
import sys
from pathlib import Path

from demo.echo import ECHO_PATH

NODES = ("n1", "n2", "n3")
GROUP = "DemoEcho"
KEEPALIVE_MS, DEADTIME_MS = 50, 300
HA_CF = f"""\
# hbtwist demo cluster: three nodes on loopback addresses
keepalive {KEEPALIVE_MS}ms
warntime 150ms
deadtime {DEADTIME_MS}ms
initdead 10
udpport {{port}}
ucast lo 127.0.0.1
ucast lo 127.0.0.2
ucast lo 127.0.0.3
node {" ".join(NODES)}
auto_failback on
"""
HARESOURCES = f"{NODES[0]} {GROUP}\n"
HBTWIST_CF = """\
# check the service every second; a start or stop taking over 5 s has failed
monitor_interval 1
monitor_timeout 2
start_timeout 5
stop_timeout 5
"""
AUTHKEYS = "auth 1\n1 sha1 demo-cluster-secret\n"
RESOURCE_SCRIPT = """\
#!/bin/sh
# {group} on node {node}: the demo's echo service (demo/echo.py), start|stop|status
exec {python} -S {echo} {node} {port} {run_dir} "$@"
"""
"""The resource.d script; echo.py needs only the standard library, and starts faster with -S."""


def free_udp_port(addresses: tuple[str, ...], avoid: int = 0) -> int:
    """An unprivileged UDP port, other than `avoid`, that is free on every address."""
    while True:
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        probe.bind((addresses[0], 0))
        port = probe.getsockname()[1]
        probe.close()
        try:
            for address in addresses[1:]:
                other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                other.bind((address, port))
                other.close()
        except OSError:
            continue
        if port != avoid:
            return port


def address(name: str) -> str:
    """The loopback address node `name` binds to: n1 127.0.0.1, n2 127.0.0.2, ..."""
    return f"127.0.0.{NODES.index(name) + 1}"


def write_node(name: str, node_dir: Path, hb_port: int, echo_port: int) -> None:
    """Node `name`'s directory: `ha.d` (ha.cf, authkeys, haresources, hbtwist.cf and
    `resource.d/DemoEcho`) and `run` (its echo server's pid file)."""
    config = node_dir / "ha.d"
    (config / "resource.d").mkdir(parents=True)
    (node_dir / "run").mkdir()
    (config / "ha.cf").write_text(HA_CF.format(port=hb_port))
    (config / "authkeys").write_text(AUTHKEYS)
    (config / "authkeys").chmod(0o600)
    (config / "haresources").write_text(HARESOURCES)
    (config / "hbtwist.cf").write_text(HBTWIST_CF)
    script = config / "resource.d" / GROUP
    script.write_text(
        RESOURCE_SCRIPT.format(
            group=GROUP,
            node=name,
            python=shlex.quote(sys.executable),
            echo=shlex.quote(str(ECHO_PATH)),
            port=echo_port,
            run_dir=shlex.quote(str(node_dir / "run")),
        )
    )
    script.chmod(0o755)


def start_daemon(name: str, node_dir: Path) -> subprocess.Popen[bytes]:
    """Start node `name`'s daemon, its JSON log on a pipe."""
    twistd = Path(sys.executable).with_name("twistd")
    command = [
        str(twistd), "-n", "--pidfile=", "--logger", "hbtwist.control.jsonlog.observer",
        "heartbeat", "--config-dir", str(node_dir / "ha.d"), "--state-dir", str(node_dir / "state"),
        "--node-name", name, "--bind-address", address(name),
        "--control-socket", str(node_dir / "control.sock"),
    ]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)


def shown(observer: str, event: dict[str, object]) -> str | None:
    """The line to show for one JSON log event of node `observer`, if it matters here: other
    nodes becoming active or dead, the group's state and holder, its starts and stops."""
    kind = event.get("event")
    if kind == "node_status_changed":
        if event["node"] == observer or event["new"] not in ("active", "dead"):
            return None
        return f"sees {event['node']} {event['new']}"
    if kind == "node_restarted":
        return f"sees {event['node']} restarted"
    if kind == "group_state_changed":
        if event["old"] == event["new"]:
            return f"learns {event['group']} is held by {event.get('holder') or 'nobody'}"
        return f"{event['group']} {event['old']} -> {event['new']}"
    if kind == "resource_operation" and event.get("operation") in ("start", "stop"):
        line = f"{event['resource']} {event['operation']} {event['result']} in {event['duration_ms']} ms"
        return line if event["result"] == "ok" else f"{line}: {event.get('detail', '')}"
    return None
