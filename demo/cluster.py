"""A three-node hbtwist cluster on this machine, no root needed: `make demo`.

Each node runs as its own `twistd heartbeat` process on its own loopback address (127.0.0.1-3)
and an unprivileged UDP port. The demo shows every node's view of the nodes and links as it
changes, kills one node after a while, and shows the others declaring it dead.
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

NODES = ("n1", "n2", "n3")
HA_CF = """\
# hbtwist demo cluster: three nodes on loopback addresses
keepalive 200ms
warntime 600ms
deadtime 1
initdead 10
udpport {port}
ucast lo 127.0.0.1
ucast lo 127.0.0.2
ucast lo 127.0.0.3
node n1 n2 n3
auto_failback on
"""
AUTHKEYS = "auth 1\n1 sha1 demo-cluster-secret\n"


@dataclass
class View:
    """What one node reports: the status of every node and of every (node, link)."""

    nodes: dict[str, str] = field(default_factory=dict)
    links: dict[tuple[str, str], str] = field(default_factory=dict)


def free_udp_port() -> int:
    """An unprivileged UDP port that is free on 127.0.0.1-3."""
    while True:
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        try:
            for index in (2, 3):
                other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                other.bind((f"127.0.0.{index}", port))
                other.close()
        except OSError:
            continue
        return port


def start_node(name: str, index: int, workdir: Path, port: int) -> subprocess.Popen[bytes]:
    """Write a node's configuration and start its daemon, JSON log on a pipe."""
    config = workdir / name / "ha.d"
    config.mkdir(parents=True)
    (config / "ha.cf").write_text(HA_CF.format(port=port))
    (config / "authkeys").write_text(AUTHKEYS)
    (config / "authkeys").chmod(0o600)
    twistd = Path(sys.executable).with_name("twistd")
    command = [
        str(twistd), "-n", "--pidfile=", "--logger", "hbtwist.control.jsonlog.observer",
        "heartbeat", "--config-dir", str(config), "--state-dir", str(workdir / name / "state"),
        "--node-name", name, "--bind-address", f"127.0.0.{index}",
        "--control-socket", str(workdir / name / "control.sock"),
    ]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)


def apply(view: View, event: dict[str, object]) -> str | None:
    """Update a view with one JSON log event; return a line to show, if the event matters."""
    kind = event.get("event")
    if kind == "node_status_changed":
        view.nodes[str(event["node"])] = str(event["new"])
        return f"node {event['node']} is {event['new']}"
    if kind == "link_status_changed":
        view.links[(str(event["node"]), str(event["link"]))] = str(event["new"])
        return f"link {event['node']}:{event['link']} {event['new']}"
    if kind in ("node_restarted", "local_stall", "late_heartbeat", "shutdown_notice"):
        return f"{kind} {event.get('node', '')}".rstrip()
    return None


def table(views: dict[str, View]) -> str:
    """Every node's view side by side: rows are nodes, columns are observers."""
    lines = ["seen by ->      " + "".join(f"{name:<22}" for name in views)]
    for node in NODES:
        cells = []
        for observer, view in views.items():
            links = [s for (n, _), s in view.links.items() if n == node]
            link_text = "self" if node == observer else f"lo:{links[0] if links else 'dead'}"
            cells.append(f"{view.nodes.get(node, 'init'):<8} {link_text:<13}")
        lines.append(f"node {node:<10} " + "".join(cells))
    return "\n".join(lines)


class Demo:
    """Runs the three daemons and follows their JSON logs."""

    def __init__(self, workdir: Path, port: int) -> None:
        self.processes = {name: start_node(name, i + 1, workdir, port) for i, name in enumerate(NODES)}
        self.views = {name: View() for name in NODES}
        self.selector = selectors.DefaultSelector()
        self.buffers = {name: b"" for name in NODES}
        for name, process in self.processes.items():
            assert process.stdout is not None
            os.set_blocking(process.stdout.fileno(), False)
            self.selector.register(process.stdout, selectors.EVENT_READ, name)

    def follow(self, seconds: float) -> None:
        """Read the logs for `seconds`, printing each change as it happens."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            for key, _ in self.selector.select(timeout=min(left, 0.2)):
                self._read(key.data, key.fileobj)

    def _read(self, name: str, stream: object) -> None:
        chunk = stream.read() or b""  # type: ignore[attr-defined]
        if not chunk:
            self.selector.unregister(stream)
            return
        data = self.buffers[name] + chunk
        *lines, self.buffers[name] = data.split(b"\n")
        for line in lines:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            shown = apply(self.views[name], event)
            if shown:
                print(f"  {time.strftime('%H:%M:%S')} {name}: {shown}", flush=True)

    def stop(self, name: str, how: signal.Signals) -> None:
        """Send a signal to one node and wait for it to end."""
        process = self.processes[name]
        process.send_signal(how)
        process.wait(timeout=10)

    def close(self) -> None:
        """Stop every node that still runs."""
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def main() -> int:
    """Run the demo; exit 0 when the survivors reported the stopped node dead."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=float, default=8.0, help="seconds before a node is killed")
    parser.add_argument("--after", type=float, default=4.0, help="seconds shown after the kill")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hbtwist-demo-") as workdir:
        demo = Demo(Path(workdir), free_udp_port())
        try:
            print("Starting n1, n2, n3 on 127.0.0.1-3 (keepalive 200 ms, deadtime 1 s)...")
            demo.follow(args.run)
            print("\n" + table(demo.views) + "\n")
            print("Killing n3 (SIGKILL): n1 and n2 should report it dead within about 1 s...")
            demo.stop("n3", signal.SIGKILL)
            demo.follow(args.after)
            del demo.views["n3"]
            print("\n" + table(demo.views) + "\n")
        finally:
            demo.close()
    survivors = [demo.views[name].nodes.get("n3") for name in ("n1", "n2")]
    if survivors == ["dead", "dead"]:
        print("n1 and n2 both report n3 dead. Demo complete.")
        return 0
    print(f"Unexpected: n1 and n2 report n3 as {survivors}.")
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
