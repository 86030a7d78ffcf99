"""A three-node hbtwist cluster on this machine moving a service, no root needed: `make demo`.

Each node runs as its own `twistd heartbeat` process on its own loopback address (127.0.0.1-3)
and an unprivileged UDP port, with its own configuration and state directories. haresources
gives node n1 one resource group, `DemoEcho`: a UDP echo server on 127.0.0.1 that answers with
its node's name (`demo/echo.py`). All nodes share loopback, so only the holder can bind the
port. A client asks every 0.1 s which node answers and prints one line a second.

The demo waits until n1 serves, kills n1 as a machine dies (its daemon and its echo server, with
SIGKILL), shows n2 taking the service over, starts n1 again and shows the service failing back
(`auto_failback on`); then it stops every node and removes everything it made.
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from demo.client import PROBE_INTERVAL, Change, Client
from demo.echo import running_pid
from demo.nodes import (
    DEADTIME_MS,
    GROUP,
    KEEPALIVE_MS,
    NODES,
    free_udp_port,
    shown,
    start_daemon,
    write_node,
)

STARTUP_SECONDS = 5.5
"""A node advertises deadtime + 2 s for 5 s after it is up: a death is detected fast after that."""
SETTLE_LIMIT = 40.0
"""Seconds each step may take before the demo gives up."""


class Demo:
    """Runs the daemons, follows their JSON logs and the client, and prints what happens."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.hb_port = free_udp_port(tuple(f"127.0.0.{i}" for i in range(1, len(NODES) + 1)))
        self.echo_port = free_udp_port(("127.0.0.1",), avoid=self.hb_port)
        for name in NODES:
            write_node(name, workdir / name, self.hb_port, self.echo_port)
        self.began = time.monotonic()
        self.selector = selectors.DefaultSelector()
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.buffers: dict[str, bytes] = {}
        self.up_at: dict[str, float] = {}
        self.client = Client(self.echo_port, self.began)
        self.selector.register(self.client, selectors.EVENT_READ, None)

    def now(self) -> float:
        """Seconds since the demo began."""
        return time.monotonic() - self.began

    def say(self, text: str) -> None:
        """One line of output, stamped with the seconds since the demo began."""
        print(f"{self.now():6.2f}s  {text}", flush=True)

    def start(self, name: str) -> None:
        """Start (or start again) node `name`'s daemon."""
        process = start_daemon(name, self.workdir / name)
        assert process.stdout is not None
        os.set_blocking(process.stdout.fileno(), False)
        self.processes[name] = process
        self.buffers[name] = b""
        self.up_at.pop(name, None)
        self.selector.register(process.stdout, selectors.EVENT_READ, name)

    def kill(self, name: str) -> None:
        """Node `name` dies: SIGKILL to its daemon and to its echo server, at once."""
        process = self.processes[name]
        echo = running_pid(self.workdir / name / "run")
        self.say(
            f"--- killing {name} as a machine dies: SIGKILL to its daemon (pid {process.pid})"
            + (f" and its echo server (pid {echo})" if echo is not None else "")
        )
        process.kill()
        if echo is not None:
            os.kill(echo, signal.SIGKILL)
        process.wait(timeout=10)
        assert process.stdout is not None
        while not process.stdout.closed:
            self._read(name, process.stdout)

    def follow(self, until: Callable[[], bool], limit: float, probing: bool = True) -> bool:
        """Follow the logs (and the client, when `probing`) until `until()` holds, for at most
        `limit` seconds; whether it held."""
        deadline = time.monotonic() + limit
        while not until():
            now = time.monotonic()
            if now >= deadline:
                return False
            wake = min(deadline, self.client.due() if probing else now + PROBE_INTERVAL)
            for key, _ in self.selector.select(timeout=max(0.0, wake - now)):
                if key.data is None:
                    self._client_changes(self.client.receive())
                else:
                    self._read(key.data, key.fileobj)  # type: ignore[arg-type]
            if probing:
                changes, line = self.client.tick(time.monotonic())
                self._client_changes(changes)
                if line is not None:
                    self.say(f"client: {line}")
        return True

    def show(self, seconds: float) -> None:
        """Follow everything for `seconds`."""
        end = time.monotonic() + seconds
        self.follow(lambda: time.monotonic() >= end, seconds + 1)

    def answering(self, node: str) -> Callable[[], bool]:
        """A condition: `node` answers the client."""
        return lambda: self.client.tally.last == node

    def settled(self) -> bool:
        """n1 answers and every node is past its start-up period."""
        return (
            self.client.tally.last == NODES[0]
            and len(self.up_at) == len(NODES)
            and time.monotonic() >= max(self.up_at.values()) + STARTUP_SECONDS
        )

    def _client_changes(self, changes: list[Change]) -> None:
        for change in changes:
            self.say(f"client: {'no answer' if change.new is None else change.new + ' answers'} now")

    def _read(self, name: str, stream: IO[bytes]) -> None:
        chunk = stream.read() or b""
        if not chunk:
            self.selector.unregister(stream)
            stream.close()
            return
        data = self.buffers[name] + chunk
        *lines, self.buffers[name] = data.split(b"\n")
        for line in lines:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("event") == "node_status_changed" and event.get("node") == name:
                if event.get("new") == "up":
                    self.up_at[name] = time.monotonic()
            text = shown(name, event)
            if text:
                self.say(f"{name}: {text}")

    def stop_all(self) -> None:
        """SIGTERM to every daemon still running, showing what they log until they have ended."""
        running = [p for p in self.processes.values() if p.poll() is None]
        for process in running:
            process.terminate()
        self.follow(lambda: all(p.poll() is not None for p in running), 15, probing=False)

    def leftovers(self) -> list[str]:
        """What still runs: daemons, echo servers, anything holding the echo port."""
        left = [f"{name}'s daemon" for name, p in self.processes.items() if p.poll() is None]
        left += [f"{name}'s echo server" for name in NODES if running_pid(self.workdir / name / "run")]
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            probe.bind(("127.0.0.1", self.echo_port))
        except OSError:
            left.append(f"something on 127.0.0.1:{self.echo_port}")
        finally:
            probe.close()
        return left

    def close(self) -> None:
        """End whatever is left: daemons, echo servers, the client."""
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout is not None and not process.stdout.closed:
                process.stdout.close()
        for name in NODES:
            echo = running_pid(self.workdir / name / "run")
            if echo is not None:
                os.kill(echo, signal.SIGKILL)
        self.client.close()
        self.selector.close()


def scenario(demo: Demo, show: float) -> list[str]:
    """Run the demo's steps; the summary lines, or raise RuntimeError when a step never comes."""
    first, second = NODES[0], NODES[1]
    demo.say(f"--- starting {', '.join(NODES)}")
    for name in NODES:
        demo.start(name)
    if not demo.follow(demo.settled, SETTLE_LIMIT):
        raise RuntimeError(f"no settled cluster with {first} serving within {SETTLE_LIMIT:.0f} s")
    tally = demo.client.tally
    summary = [f"before the kill: {first} answered"]

    killed = time.monotonic()
    demo.kill(first)
    demo.say(
        f"--- {', '.join(NODES[1:])} should find {first} dead after the deadtime ({DEADTIME_MS} ms);"
        f" {second}, next after {first} in the node list, takes {GROUP} over"
    )
    if not demo.follow(demo.answering(second), SETTLE_LIMIT):
        raise RuntimeError(f"{second} did not take {GROUP} over within {SETTLE_LIMIT:.0f} s")
    taken = tally.first_answer(killed, second) or time.monotonic()
    summary.append(
        f"{first} killed at {killed - demo.began:.2f}s: {second} answered {taken - killed:.2f} s later"
    )
    demo.show(show)

    demo.say(f"--- starting {first} again: with auto_failback on, {GROUP} goes back to it")
    demo.start(first)
    if not demo.follow(demo.answering(first), SETTLE_LIMIT):
        raise RuntimeError(f"{GROUP} did not fail back to {first} within {SETTLE_LIMIT:.0f} s")
    up = demo.up_at.get(first, killed)
    back = tally.first_answer(up, first) or time.monotonic()
    silent = tally.first_answer(up, None)
    gap = f", no answer for {back - silent:.2f} s during the move" if silent is not None else ""
    summary.append(
        f"{first} up again at {up - demo.began:.2f}s: {first} answered {back - up:.2f} s later{gap}"
    )
    demo.show(show)

    demo.say(f"--- stopping {', '.join(NODES)} (SIGTERM): the holder stops {GROUP} first")
    demo.stop_all()
    left = demo.leftovers()
    if left:
        raise RuntimeError(f"still running after the nodes stopped: {', '.join(left)}")
    return summary


def main() -> int:
    """Run the demo; exit 0 when the service moved to n2 and back to n1, else 1."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--show", type=float, default=3.0, help="seconds shown after each move (default 3)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hbtwist-demo-") as workdir:
        demo = Demo(Path(workdir))
        print(
            f"Nodes {', '.join(NODES)} on 127.0.0.1-{len(NODES)}, heartbeats on UDP port"
            f" {demo.hb_port} (keepalive {KEEPALIVE_MS} ms, deadtime {DEADTIME_MS} ms).\n"
            f"Resource group {GROUP} (haresources `{NODES[0]} {GROUP}`, auto_failback on): a UDP"
            f" echo server on 127.0.0.1:{demo.echo_port} answering with its node's name.\n"
            f"The client asks every {PROBE_INTERVAL:g} s which node answers; one line a second.\n",
            flush=True,
        )
        try:
            summary = scenario(demo, args.show)
        except RuntimeError as error:
            demo.say(f"Unexpected: {error}")
            return 1
        except KeyboardInterrupt:
            demo.say("Interrupted: stopping everything")
            return 130
        finally:
            demo.close()
    print("\nSummary:\n" + "\n".join(f"  {line}" for line in summary))
    print("All nodes stopped, no echo server left, temporary files removed. Demo complete.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
