"""The Heartbeat 3.0.6 node of a mixed CTS cluster: the Debian package's daemon
(`realheartbeat.RealHeartbeat`, in namespaces of its own on the lab host) with the cluster's
ha.cf and haresources, driven as CTS drives a heartbeat node.

Heartbeat runs its groups itself: the package's `resource.d/IPaddr2` (the resource-agents
script) for the address, the cluster's `Marker` script, copied into its `resource.d`, for the
marker. It logs to `<host>/heartbeat/ha-log` in the layout CTS's patterns are written for (its
own lines and those of the scripts it runs). A stop is SIGTERM to the daemon, as `heartbeat -k`
sends; a standby is its `hb_standby`, run beside it; what it says it holds is `cl_status
rscstatus`.

One change to the package's files: the shell function its scripts send cluster messages with
writes each message into Heartbeat's FIFO in one write (`ONE_WRITE_CLUSTERMSG`).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Mapping, Sequence

from tests.integration.ctsnode import CtsMember, Group, LogFile, Timers
from tests.integration.lab import Host, Lab, LabError
from tests.integration.realheartbeat import RealHeartbeat
from tests.integration.threenode import AUTHKEYS

HEARTBEAT_TIMERS = Timers(keepalive_ms=200, deadtime_ms=2000, warntime_ms=1000, initdead_s=4)
"""The timers of a cluster with a Heartbeat node (as tests/integration/test_interop_failover.py):
Heartbeat does not defer its peer timeouts after a stall of its own, and on this loaded machine
both daemons were seen stalled for ~1 s at once, so its deadtime leaves room. Heartbeat warns
that an initdead under 10 s may be too small, but needs it only at least the deadtime."""

SHIPPED_CLUSTERMSG = """ha_clustermsg() {
\t(echo ">>>"; cat -; echo "<<<")\t| cat - >> $HA_FIFO
}
"""
ONE_WRITE_CLUSTERMSG = """ha_clustermsg() {
\tmsg="$(echo ">>>"; cat -; echo "<<<")"
\tprintf '%s\\n' "$msg" >> $HA_FIFO
}
"""
"""`shellfuncs`' `ha_clustermsg`, which `req_resource` (a node taking its own groups at start),
`mach_down`, `hb_standby` and `rc.d/ip-request` send their messages with, as shipped and as the
lab's Heartbeat node has it. The shipped pipeline means to write a message at once but does
not: its last `cat` writes `>>>`, the body and `<<<` as they come, with a process started in
between. Heartbeat 3.0.6's FIFO reader reads under a 1 s alarm (`setmsalarm(1000)` around
`msgfromstream`) and drops a message the alarm caught half read (`ERROR: msg2string: Message
with zero fields`, doc/interop.md); on this loaded machine that happened about once in seven
mixed runs, to the `ip-request-resp` of a starting node, whose own group then never started.
In one write (45 bytes for a standby, far below PIPE_BUF) a message reaches the reader whole."""

RETURN_LINE = re.compile(r"CRIT: Cluster node (\S+) returning after partition\.")
LATE_AT_RETURN = r"CRIT: Late heartbeat: Node {node}: interval \d+ ms \(> deadtime\)"
LINES_AFTER_RETURN = 12
"""Heartbeat 3.0.6 logs `Cluster node X returning after partition.`, four lines of advice (its
resource scripts' lines may come between), then, for the same status message, `CRIT: Late
heartbeat: Node X: interval N ms (> deadtime)`, and declares X dead once more: declaring a node
dead does not forget when it was last heard, so the first status after any partition longer
than the deadtime is late. CTS's Split_brain, older than that line, lists only the return among
the errors a partition brings."""

RSC_HOLD = {
    (True, True): "all",
    (True, False): "local",
    (False, True): "foreign",
    (False, False): "none",
}
"""Heartbeat's word for what a node holds, by (holds its preferred groups, holds others)."""


class HeartbeatNode(CtsMember):
    """One host's Heartbeat 3.0.6 daemon, started and stopped as CTS does."""

    memory_lock_noise = r"ERROR: Cannot lock ourselves into memory"
    """Logged at every start in this lab (its mlockall fails here); the other tests with a real
    Heartbeat leave it aside too."""

    def __init__(
        self, lab: Lab, host: Host, order: Sequence[str], groups: Sequence[Group], timers: Timers
    ) -> None:
        super().__init__(lab, host, order, groups, timers)
        ha_cf = "\n".join(self.ha_cf_lines()) + "\n"
        self.daemon = RealHeartbeat(lab, host, ha_cf, AUTHKEYS, self.haresources)
        self.config_dir = self.daemon.config_dir
        self.log = LogFile(self.daemon.log_path)
        self.install_marker(self.daemon.config_dir / "resource.d")
        self._send_messages_whole()

    def _send_messages_whole(self) -> None:
        """Put ONE_WRITE_CLUSTERMSG into the node's copy of `shellfuncs`."""
        shellfuncs = self.daemon.config_dir / "shellfuncs"
        text = shellfuncs.read_text()
        if SHIPPED_CLUSTERMSG not in text:
            raise LabError(f"{shellfuncs}: not the ha_clustermsg of Heartbeat 3.0.6")
        shellfuncs.write_text(text.replace(SHIPPED_CLUSTERMSG, ONE_WRITE_CLUSTERMSG))

    @property
    def environment_noise(self) -> tuple[str, ...]:  # type: ignore[override]
        """The memory-lock error, and each late heartbeat logged with a node's return after a
        partition (LATE_AT_RETURN), as exact lines."""
        lines, _ = self.log.lines_from(0)
        noise = [self.memory_lock_noise]
        for index, line in enumerate(lines):
            returned = RETURN_LINE.search(line)
            if returned is None:
                continue
            late = re.compile(LATE_AT_RETURN.format(node=re.escape(returned.group(1))))
            following = lines[index + 1 : index + 1 + LINES_AFTER_RETURN]
            noise += [re.escape(follower) for follower in following if late.search(follower)]
        return tuple(noise)

    @property
    def running(self) -> bool:
        """Whether the daemon (its namespace) still runs."""
        return self.daemon.running

    def start(self) -> None:
        """Start Heartbeat (in new namespaces, its files kept from any run before); returns once
        it has set itself `up`, a fraction of a second, before it looks for its peers."""
        if self.daemon.proc is None:
            self.daemon.start()
        else:
            self.daemon.restart()

    def stop(self) -> None:
        """SIGTERM to the daemon, as `heartbeat -k` sends; returns at once."""
        self._signal(signal.SIGTERM)

    def wait_exit(self, timeout: float) -> None:
        """Wait (bounded) until the daemon, and with it everything in its namespace, has ended."""
        proc = self.daemon.proc
        if proc is None:
            return
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise LabError(f"{self.name}: Heartbeat still running {timeout} s after SIGTERM") from None

    def kill(self) -> None:
        """Tear-down: SIGTERM, SIGKILL if Heartbeat lingers; its FIFO and sockets removed."""
        self.daemon.close()

    def reload(self) -> None:
        """SIGHUP to Heartbeat's master control process, which re-reads `OnlyForTesting`."""
        self._signal(signal.SIGHUP)

    def _signal(self, sig: signal.Signals) -> None:
        """Send `sig` to the master control process (the one running now: it changes when
        Heartbeat restarts itself)."""
        pid = self.daemon.pid
        if pid is None or not self.running:
            raise LabError(f"{self.name}: Heartbeat is not running")
        os.kill(pid, sig)

    def request_standby(self) -> None:
        """`hb_standby` (all), beside the daemon: it writes the request into Heartbeat's FIFO."""
        if self.daemon.hb_standby("all") != 0:
            raise LabError(f"{self.name}: hb_standby failed\n{self.daemon.tail()}")

    def disagreements(self, expected: Mapping[str, str | None]) -> list[str]:
        """`cl_status rscstatus` must name the set of groups the node should hold (`local`:
        its preferred groups, `foreign`: the others, `all`, `none`), which it cannot while its
        resources are in `transition`."""
        mine = [group for group in self.groups if expected.get(group.key) == self.name]
        local = any(group.preferred == self.name for group in mine)
        foreign = any(group.preferred != self.name for group in mine)
        word = RSC_HOLD[local, foreign]
        _code, said = self.daemon.cl_status("rscstatus")
        if said.strip() != word:
            return [f"{self.name}: cl_status rscstatus says {said.strip()!r}, not {word!r}"]
        return []
