"""One node of the CTS lab: what the cluster needs of any node (`CtsMember`: its configuration,
its log file, its groups' state on the host) and the hbtwist node, started and stopped as
Heartbeat's Cluster Test Suite does it (`twistd heartbeat` daemonized with a pidfile, SIGTERM to
the pidfile's process). The Heartbeat 3.0.6 node is in `ctsheartbeat.py`.

Every node's ha.cf has the cluster's `Timers`, unicast to every peer on LAN A, broadcast on LAN B
and `auto_failback on`; its log file has Heartbeat's line layout, which CTS reads. Its
haresources has one group per node, each an `IPaddr2` address on LAN A (served natively by
hbtwist, by the resource script under Heartbeat) and a `Marker` script of the node's
`resource.d` whose state is a file.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hbtwist.core.failover import REPORT_WAIT_S
from hbtwist.core.standby import REPLY_WAIT_S
from tests.integration.lab import HBCTL, Host, Lab, LabError
from tests.integration.shell import STOP_TIMEOUT, run
from tests.integration.threenode import AUTHKEYS

LOAD_MARGIN_S = 6.0
"""What every wait adds to the protocol's own delays for a loaded machine (2 shared vCPUs)."""


@dataclass(frozen=True)
class Timers:
    """The cluster's ha.cf timers, and CTS's waits derived from them."""

    keepalive_ms: int
    deadtime_ms: int
    warntime_ms: int
    initdead_s: int

    @property
    def start_timeout(self) -> float:
        """A start or a settling audit: a node alone waits initdead, a node beside a peer in
        transition waits Heartbeat's RQSTDELAY (CTS: StartTime + 10 s)."""
        return self.initdead_s + REPORT_WAIT_S + LOAD_MARGIN_S

    @property
    def stop_timeout(self) -> float:
        """A stop: a shutdown waits for resource activity under way (at most an RQSTDELAY),
        then peers see the node dead, Heartbeat only when the deadtime has run out."""
        return REPORT_WAIT_S + self.deadtime_ms / 1000 + LOAD_MARGIN_S

    @property
    def standby_timeout(self) -> float:
        """A standby: answered or, a node alone, given up after the reply timer (CTS:
        DeadTime + 10 s)."""
        return self.deadtime_ms / 1000 + REPLY_WAIT_S + LOAD_MARGIN_S


HBTWIST_TIMERS = Timers(keepalive_ms=100, deadtime_ms=1000, warntime_ms=500, initdead_s=4)
"""Every stop is graceful (peers see the node dead at its `shutdone`), so deadtime costs the
scenarios nothing; 1 s rides out the stalls of a loaded machine (up to 0.9 s seen here). initdead
is long enough that a node starting on a loaded machine hears the running ones first."""

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

MARKERS_DIR = "markers"
"""The directory of a node's Marker state files, in its home."""
PIDFILE = "heartbeat.pid"
"""The hbtwist daemon's pidfile, in its node's home."""
START_TEXT = "Configuration validated. Starting heartbeat"
HOLDING_LINE = re.compile(r"This node now holds (\S+) resources")
GROUP_LINE = re.compile(r"Resource group (\S+): \S+ -> \S+ \(holder: (\S+)\)")


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


class CtsMember(ABC):
    """A node as the CTS cluster drives and audits it, whatever daemon it runs: started and
    stopped without waiting (the cluster waits for CTS's log patterns), its groups' state read
    from its host."""

    environment_noise: tuple[str, ...] = ()
    """Regexes of BadRegexes lines this kind of daemon logs because of the lab, not the test."""
    log: LogFile
    """The daemon's log file (Heartbeat's line layout)."""
    config_dir: Path
    """The daemon's `/etc/ha.d`."""
    marker_script: Path
    """The `Marker` script in the daemon's `resource.d` (`install_marker`)."""

    def __init__(
        self, lab: Lab, host: Host, order: Sequence[str], groups: Sequence[Group], timers: Timers
    ) -> None:
        self.lab = lab
        self.host = host
        self.name = host.name
        self.order = tuple(order)
        self.groups = tuple(groups)
        self.timers = timers
        self.home = lab.host_dir(host)
        self.markers = self.home / MARKERS_DIR
        self.markers.mkdir(exist_ok=True)

    def ha_cf_lines(self) -> list[str]:
        """The ha.cf every node of the cluster shares, bar its unicast peers and log file."""
        peers = [self.lab.hosts[name] for name in self.order if name != self.name]
        timers = self.timers
        return [
            f"# CTS lab, node {self.name}",
            "udpport 694",
            f"keepalive {timers.keepalive_ms}ms",
            f"deadtime {timers.deadtime_ms}ms",
            f"warntime {timers.warntime_ms}ms",
            f"initdead {timers.initdead_s}",
            *(f"ucast eth0 {peer.addr_a}" for peer in peers),
            "bcast eth1",
            "auto_failback on",
            "node " + " ".join(self.order),
        ]

    @property
    def haresources(self) -> str:
        """haresources: one line per group."""
        return "".join(group.line + "\n" for group in self.groups)

    def install_marker(self, resource_dir: Path) -> None:
        """Put the `Marker` resource script into the daemon's `resource.d`."""
        resource_dir.mkdir(parents=True, exist_ok=True)
        script = resource_dir / "Marker"
        script.write_text(MARKER_SCRIPT.format(markers=self.markers))
        script.chmod(0o755)
        self.marker_script = script

    @property
    @abstractmethod
    def running(self) -> bool:
        """Whether the daemon (or its launch) is still under way."""

    @abstractmethod
    def start(self) -> None:
        """Start the daemon as CTS does; return without waiting for it to be up."""

    @abstractmethod
    def stop(self) -> None:
        """SIGTERM the daemon, as `heartbeat -k` does; return at once."""

    @abstractmethod
    def wait_exit(self, timeout: float) -> None:
        """Wait (bounded) until the daemon has exited."""

    @abstractmethod
    def kill(self) -> None:
        """Tear-down: stop the daemon, killing it if it lingers."""

    @abstractmethod
    def reload(self) -> None:
        """Make the daemon read its configuration again (what `/etc/init.d/heartbeat reload`
        does after `TestHeartbeatComm` changed `OnlyForTesting`): SIGHUP."""

    def break_communication(self) -> None:
        """`TestHeartbeatComm break-communication` (no node allowed): the node neither sends nor
        hears anything."""
        (self.config_dir / "OnlyForTesting").write_text("xmitloss=1\nrcvloss=1\nallownodes=;\n")
        self.reload()

    def fix_communication(self) -> None:
        """`TestHeartbeatComm fix-communication`: the test file removed, the daemon reloaded."""
        (self.config_dir / "OnlyForTesting").unlink(missing_ok=True)
        self.reload()

    def crash(self) -> None:
        """`killall -9` of the daemon, as CTS's DetectionTime does; return once signalled."""
        raise LabError(f"{self.name}: the lab does not crash a {type(self).__name__}")

    def set_interface(self, interface: str, up: bool) -> None:
        """`ifconfig INTERFACE up|down` on the node, as CTS's RedundantpathTest does."""
        self.host.run("ip", "link", "set", interface, "up" if up else "down")

    @abstractmethod
    def request_standby(self) -> None:
        """Ask the daemon to go standby (give all its groups away); return once asked."""

    @abstractmethod
    def disagreements(self, expected: Mapping[str, str | None]) -> list[str]:
        """Where the daemon, running, is not stable or does not report what it holds as
        `expected` (each group's holder by the group's key) says."""

    def addresses(self) -> set[str]:
        """The IPv4 addresses on this host's eth0 (`ip -o addr`)."""
        listing = run(["ip", "-n", self.host.netns, "-o", "-4", "addr", "show", "dev", "eth0"]).stdout
        return {match.group(1) for match in re.finditer(r"inet (\S+?)/", listing)}

    def marker_status(self, marker: str) -> str:
        """What `Marker NAME status` prints on this node."""
        return run([str(self.marker_script), marker, "status"]).stdout.strip()

    def markers_held(self) -> set[str]:
        """The markers whose state file exists on this node."""
        return {path.name for path in self.markers.iterdir()}


class CtsNode(CtsMember):
    """One host's hbtwist daemon, started and stopped as CTS does."""

    def __init__(
        self,
        lab: Lab,
        host: Host,
        order: Sequence[str],
        groups: Sequence[Group],
        timers: Timers,
        stonith_host: str | None = None,
    ) -> None:
        """`stonith_host`: an ha.cf line that gives the node a STONITH device (None: none)."""
        super().__init__(lab, host, order, groups, timers)
        self.stonith_host = stonith_host
        self.config_dir = self.home / "ha.d"
        self.state_dir = self.home / "state"
        self.pidfile = self.home / PIDFILE
        self.socket = self.home / "control.sock"
        self.log = LogFile(self.home / "ha-log")
        self.reaper: subprocess.Popen[Any] | None = None
        self._write_config()

    def _write_config(self) -> None:
        self.config_dir.mkdir(parents=True, exist_ok=True)
        self.state_dir.mkdir(mode=0o700, exist_ok=True)
        (self.config_dir / "ha.cf").write_text(self.ha_cf())
        keys = self.config_dir / "authkeys"
        keys.write_text(AUTHKEYS)
        keys.chmod(0o600)
        (self.config_dir / "haresources").write_text(self.haresources)
        self.install_marker(self.config_dir / "resource.d")

    def ha_cf(self) -> str:
        """ha.cf: the cluster's, with the log file."""
        lines = self.ha_cf_lines()
        lines.insert(1, f"logfile {self.log.path}")
        if self.stonith_host is not None:
            lines.append(self.stonith_host)
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

    def wait_exit(self, timeout: float) -> None:
        """Wait (bounded) until the daemon has exited and been reaped."""
        if self.reaper is None:
            return
        try:
            self.reaper.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise LabError(f"{self.name} still running {timeout} s after its signal") from None

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

    def crash(self) -> None:
        """SIGKILL to the pidfile's process; its reaper ends with it (`wait_exit`)."""
        os.kill(self.pid(), signal.SIGKILL)

    def reload(self) -> None:
        """SIGHUP to the daemon."""
        os.kill(self.pid(), signal.SIGHUP)

    def hbctl(self, *argv: str) -> subprocess.CompletedProcess[str]:
        """Run an hbctl command against this node."""
        return run([*HBCTL, *argv, "--control", self.control])

    def request_standby(self) -> None:
        """`hbctl standby`."""
        self.hbctl("standby")

    def disagreements(self, expected: Mapping[str, str | None]) -> list[str]:
        """Its log's last `This node now holds ...` must not be `transition`, and its last
        `Resource group ...` line of every group must name the expected holder."""
        holding, holders = node_view(self.log.lines_from(0)[0])
        problems = []
        if holding == "transition":
            problems.append(f"{self.name}: not stable (resources in transition)")
        for key, holder in expected.items():
            if holders.get(key) != holder:
                problems.append(f"{self.name}: holder of {key} is {holders.get(key)}, not {holder}")
        return problems


def node_view(lines: list[str]) -> tuple[str | None, dict[str, str | None]]:
    """What an hbtwist node's log says it holds (`none`, `local`, ... or `transition`) and each
    group's holder, as of its last line, since the daemon last started."""
    starts = [index for index, line in enumerate(lines) if START_TEXT in line]
    holding: str | None = None
    holders: dict[str, str | None] = {}
    for line in lines[starts[-1] if starts else 0 :]:
        if match := HOLDING_LINE.search(line):
            holding = match.group(1)
        elif match := GROUP_LINE.search(line):
            holder = match.group(2)
            holders[match.group(1)] = None if holder == "None" else holder
    return holding, holders
