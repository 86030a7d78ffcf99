"""One node of the CTS lab: its configuration, its ha.cf log file, and its daemon started and
stopped as Heartbeat's Cluster Test Suite does it (`twistd heartbeat` daemonized with a pidfile,
SIGTERM to the pidfile's process).

The node's ha.cf sets `logfile` (Heartbeat's line layout, which CTS reads), short timers and
`auto_failback on`; its haresources has one group per node, each an `IPaddr2` address on LAN A
(served natively) and a `Marker` script of the node's `resource.d` whose state is a file.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.integration.lab import HBCTL, Host, Lab, LabError
from tests.integration.shell import STOP_TIMEOUT, run
from tests.integration.threenode import AUTHKEYS

KEEPALIVE_MS = 100
DEADTIME_MS = 1000
"""Every stop is graceful (peers see the node dead at its `shutdone`), so deadtime costs the
scenarios nothing; 1 s rides out the stalls of a loaded machine (up to 0.9 s seen here)."""
WARNTIME_MS = 500
INITDEAD_S = 4
"""How long a node starting alone waits for the others before it goes on without them; long
enough that a node starting on a loaded machine hears the running ones first."""
STOP_WAIT = 15.0

MARKER_SCRIPT = """#!/bin/sh
# Marker NAME start|stop|status|monitor: a resource whose state is the file {markers}/NAME
state="{markers}/$1"
case "$2" in
  start) touch "$state" ;;
  stop) rm -f "$state" ;;
  status) if [ -e "$state" ]; then echo running; else echo stopped; fi ;;
  monitor) if [ -e "$state" ]; then echo OK; else exit 7; fi ;;
  *) echo "usage: $0 NAME start|stop|status|monitor" >&2; exit 3 ;;
esac
"""

REAPER = (
    "import ctypes, os, sys\n"
    "ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)\n"
    "os.spawnv(os.P_NOWAIT, sys.argv[1], sys.argv[1:])\n"
    "while True:\n"
    "    try:\n"
    "        os.wait()\n"
    "    except ChildProcessError:\n"
    "        break\n"
)
"""Runs its arguments as a child subreaper (PR_SET_CHILD_SUBREAPER = 36): the daemon twistd
forks off is reaped here, and this process ends when the daemon does."""


def _twistd() -> str:
    twistd = Path(sys.executable).parent / "twistd"
    if not twistd.exists():
        raise LabError(f"no twistd beside {sys.executable}")
    return str(twistd)


@dataclass(frozen=True)
class Group:
    """One haresources line: an address on LAN A and a marker, preferring one node."""

    preferred: str
    address: str
    marker: str

    @property
    def ip_resource(self) -> str:
        """The address resource, also the group's key."""
        return f"IPaddr2::{self.address}/24/eth0"

    @property
    def key(self) -> str:
        """The group's key (the text of its first resource)."""
        return self.ip_resource

    @property
    def line(self) -> str:
        """The haresources line."""
        return f"{self.preferred} {self.ip_resource} Marker::{self.marker}"


class LogFile:
    """A node's ha.cf `logfile`, read from an offset (complete lines only)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def size(self) -> int:
        """The file's size now (0 before it exists)."""
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def lines_from(self, offset: int) -> tuple[list[str], int]:
        """The complete lines written at or after `offset`, and the offset after them."""
        try:
            with open(self.path, "rb") as log:
                log.seek(offset)
                data = log.read()
        except FileNotFoundError:
            return [], offset
        end = data.rfind(b"\n") + 1
        text = data[:end].decode(errors="replace")
        return text.splitlines(), offset + end

    def tail(self, lines: int = 15) -> str:
        """The last lines, for failure messages."""
        found, _ = self.lines_from(0)
        return "\n".join(found[-lines:])


class CtsNode:
    """One host's daemon, started and stopped as CTS does."""

    def __init__(self, lab: Lab, host: Host, order: Sequence[str], groups: Sequence[Group]) -> None:
        self.lab = lab
        self.host = host
        self.name = host.name
        self.home = lab.host_dir(host)
        self.config_dir = self.home / "ha.d"
        self.state_dir = self.home / "state"
        self.markers = self.home / "markers"
        self.pidfile = self.home / "heartbeat.pid"
        self.socket = self.home / "control.sock"
        self.log = LogFile(self.home / "ha-log")
        self.reaper: subprocess.Popen[Any] | None = None
        self._write_config(order, groups)

    def _write_config(self, order: Sequence[str], groups: Sequence[Group]) -> None:
        for path in (self.config_dir / "resource.d", self.markers):
            path.mkdir(parents=True, exist_ok=True)
        self.state_dir.mkdir(mode=0o700, exist_ok=True)
        (self.config_dir / "ha.cf").write_text(self.ha_cf(order))
        keys = self.config_dir / "authkeys"
        keys.write_text(AUTHKEYS)
        keys.chmod(0o600)
        (self.config_dir / "haresources").write_text("".join(g.line + "\n" for g in groups))
        script = self.config_dir / "resource.d" / "Marker"
        script.write_text(MARKER_SCRIPT.format(markers=self.markers))
        script.chmod(0o755)

    def ha_cf(self, order: Sequence[str]) -> str:
        """ha.cf: ucast to every peer on LAN A, bcast on LAN B, the log file, auto failback."""
        peers = [self.lab.hosts[name] for name in order if name != self.name]
        lines = [
            f"# CTS lab, node {self.name}",
            f"logfile {self.log.path}",
            "udpport 694",
            f"keepalive {KEEPALIVE_MS}ms",
            f"deadtime {DEADTIME_MS}ms",
            f"warntime {WARNTIME_MS}ms",
            f"initdead {INITDEAD_S}",
            *(f"ucast eth0 {peer.addr_a}" for peer in peers),
            "bcast eth1",
            "auto_failback on",
            "node " + " ".join(order),
        ]
        return "\n".join(lines) + "\n"

    @property
    def control(self) -> str:
        """hbctl's `--control` address of this node."""
        return f"unix:{self.socket}"

    @property
    def running(self) -> bool:
        """Whether the daemon (or its launch) is still under way."""
        return self.reaper is not None and self.reaper.poll() is None

    def start(self) -> None:
        """`twistd heartbeat` daemonizes (pidfile); returns at once, as CTS's no-block start."""
        if self.running:
            raise LabError(f"{self.name} is already running")
        self.socket.unlink(missing_ok=True)
        argv = [
            _twistd(),
            f"--pidfile={self.pidfile}",
            f"--logfile={self.home / 'twistd.log'}",
            "heartbeat",
            "--config-dir",
            str(self.config_dir),
            "--state-dir",
            str(self.state_dir),
            "--node-name",
            self.name,
            "--control-socket",
            str(self.socket),
        ]
        errors = self.home / "twistd.err"
        self.reaper = self.lab.spawn(
            self.host, [sys.executable, "-c", REAPER, *argv], stdout=errors, stderr=errors, cwd=self.home
        )

    def pid(self, timeout: float = 10.0) -> int:
        """The daemon's process id, from its pidfile (waiting for it, bounded)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return int(self.pidfile.read_text().strip())
            except (FileNotFoundError, ValueError):
                if not self.running or time.monotonic() > deadline:
                    raise LabError(f"{self.name}: no pidfile {self.pidfile}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM to the pidfile's process, as `heartbeat -k` does; returns at once."""
        os.kill(self.pid(), signal.SIGTERM)

    def wait_exit(self, timeout: float = STOP_WAIT) -> None:
        """Wait (bounded) until the daemon has exited and been reaped."""
        if self.reaper is None:
            return
        try:
            self.reaper.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise LabError(f"{self.name} still running {timeout} s after SIGTERM") from None

    def kill(self) -> None:
        """Tear-down: SIGTERM, then SIGKILL if the daemon lingers; reap it."""
        if not self.running:
            return
        try:
            self.stop()
            self.wait_exit(STOP_TIMEOUT)
        except (LabError, ProcessLookupError):
            pid = self.pid(0)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.wait_exit(STOP_TIMEOUT)

    def hbctl(self, *argv: str) -> subprocess.CompletedProcess[str]:
        """Run an hbctl command against this node."""
        return run([*HBCTL, *argv, "--control", self.control])

    def addresses(self) -> set[str]:
        """The IPv4 addresses on this host's eth0 (`ip -o addr`)."""
        listing = run(["ip", "-n", self.host.netns, "-o", "-4", "addr", "show", "dev", "eth0"]).stdout
        return {match.group(1) for match in re.finditer(r"inet (\S+?)/", listing)}

    def marker_status(self, marker: str) -> str:
        """What `Marker NAME status` prints on this node."""
        script = self.config_dir / "resource.d" / "Marker"
        return run([str(script), marker, "status"]).stdout.strip()

    def markers_held(self) -> set[str]:
        """The markers whose state file exists on this node."""
        return {path.name for path in self.markers.iterdir()}
