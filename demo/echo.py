"""DemoEcho: the demo's service, a UDP echo server on 127.0.0.1 that answers with its node's name.

The demo writes a `resource.d/DemoEcho` script into each node's configuration directory that runs

    echo.py NODE PORT RUN_DIR start|stop|status

as Heartbeat runs any resource.d script (the action last):

* start: binds the port, leaves a server process in a session of its own and succeeds; it
  fails when the port is taken (all nodes share loopback: only one of them can hold the service);
* stop: kills the server named by `RUN_DIR/DemoEcho.pid`; succeeds when none runs;
* status: prints `running` or `stopped` (Heartbeat reads a status from the text).

The server answers every datagram with the node's name. It ends by itself when its run
directory disappears (the demo is over) or after `LIFETIME` seconds.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import sys
import time
from pathlib import Path

ECHO_PATH = Path(__file__).resolve()
HOST = "127.0.0.1"
LIFETIME = 600.0
"""Seconds after which a server ends even if nobody stops it."""


def pid_file(run_dir: Path) -> Path:
    """Where the running server's pid is kept."""
    return run_dir / "DemoEcho.pid"


def running_pid(run_dir: Path) -> int | None:
    """The pid of this node's server when it runs (a zombie does not), else None."""
    try:
        pid = int(pid_file(run_dir).read_text())
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        return None
    return None if stat.rpartition(")")[2].split()[0] == "Z" else pid


def serve(sock: socket.socket, node: str, run_dir: Path) -> None:
    """Answer every datagram on `sock` with the node's name, until the run directory is gone
    or LIFETIME has passed."""
    end = time.monotonic() + LIFETIME
    while time.monotonic() < end and run_dir.is_dir():
        readable, _, _ = select.select([sock], [], [], 1.0)
        if readable:
            try:
                _, peer = sock.recvfrom(512)
                sock.sendto(node.encode(), peer)
            except OSError:
                continue


def start(node: str, port: int, run_dir: Path) -> int:
    """Bind the port (exit 1 when another node holds it), then serve in a child process of a
    session of its own, detached from the script's output (exit 0)."""
    if running_pid(run_dir) is not None:
        return 0
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind((HOST, port))
    except OSError as error:
        print(f"cannot bind {HOST}:{port}: {error.strerror}")
        return 1
    pid = os.fork()
    if pid == 0:
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        try:
            serve(sock, node, run_dir)
        finally:
            os._exit(0)
    sock.close()
    pid_file(run_dir).write_text(f"{pid}\n")
    print(f"{node} serves {HOST}:{port} (pid {pid})")
    return 0


def stop(run_dir: Path) -> int:
    """Kill the server, if one runs; wait until it is gone."""
    pid = running_pid(run_dir)
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 2.0
        while running_pid(run_dir) is not None and time.monotonic() < deadline:
            time.sleep(0.01)
    if running_pid(run_dir) is not None:
        print("still running")
        return 1
    pid_file(run_dir).unlink(missing_ok=True)
    return 0


def main(argv: list[str]) -> int:
    """Run one action: start, stop or status."""
    if len(argv) != 4 or argv[3] not in ("start", "stop", "status"):
        print("usage: echo.py NODE PORT RUN_DIR start|stop|status", file=sys.stderr)
        return 2
    node, port, run_dir, action = argv[0], int(argv[1]), Path(argv[2]), argv[3]
    if action == "start":
        return start(node, port, run_dir)
    if action == "stop":
        return stop(run_dir)
    print("running" if running_pid(run_dir) is not None else "stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
