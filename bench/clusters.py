"""Clusters of real daemons for the benchmarks: hbtwist, and Heartbeat 3.0.6 when installed.

Both kinds run on hosts of a `tests.integration.lab.Lab` (`n1` ... `nN`, eth0 on LAN A, eth1 on
LAN B) with the same ha.cf: the timings, `realtime` as asked, `ucast eth0 <peer>` for every other
node, `bcast eth1`, `crm off`, `auto_failback on`, the nodes in order; authkeys `sha1`. They answer
the same questions (`Cluster`): what each node sees, when, which processes make a node, which
command lists the nodes, and they kill and restart nodes.

What an hbtwist node sees comes from its JSON events, stamped by the daemon. What a Heartbeat node
sees comes from its log, whose lines carry whole seconds only: each line is stamped with the time
this process first read it (`StampedLog`, read every WAIT_INTERVAL while waiting, every
POLL_INTERVAL while a time is measured).
"""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

from bench import procstat
from tests.integration.failover import Timing
from tests.integration.lab import HBCTL, Host, Lab, LabError, Node, control_address
from tests.integration.realheartbeat import HEARTBEAT, RealHeartbeat, unavailable

AUTHKEYS = "auth 1\n1 sha1 benchmark-secret\n"
POLL_INTERVAL = 0.005
"""How often a wait for a timed event reads the logs: the resolution of a Heartbeat node's
timestamps then."""
WAIT_INTERVAL = 0.05
"""How often other waits look (a cluster's start, a group's takeover)."""

STATUS_LINE = re.compile(r"Status update for node (\S+): status (\S+)")
LOCAL_STATUS_LINE = re.compile(r"Local status now set to: '(\w+)'")
DEAD_LINE = re.compile(r"node (\S+): is dead")
HEARTBEAT_TROUBLE = {
    "node deaths": re.compile(r": is dead"),
    "link deaths": re.compile(r"Link \S+ dead\."),
    "late heartbeats": re.compile(r"Late heartbeat"),
}


def heartbeat_missing() -> str | None:
    """Why Heartbeat 3.0.6 cannot run beside hbtwist here, or None."""
    return unavailable()


def ha_cf(host: Host, hosts: Sequence[Host], timing: Timing, realtime: bool) -> str:
    """The ha.cf of `host` in a cluster of `hosts` (the same for hbtwist and Heartbeat)."""
    lines = [
        f"# benchmark cluster, node {host.name}",
        "udpport 694",
        f"keepalive {timing.keepalive_ms}ms",
        f"deadtime {timing.deadtime_ms}ms",
        f"warntime {timing.warntime_ms}ms",
        f"initdead {timing.initdead_s}",
        f"realtime {'on' if realtime else 'off'}",
        "crm off",
        *(f"ucast eth0 {peer.addr_a}" for peer in hosts if peer is not host),
        "bcast eth1",
        "auto_failback on",
        "node " + " ".join(peer.name for peer in hosts),
    ]
    return "\n".join(lines) + "\n"


def first_all_active(changes: Iterable[tuple[float, str, str]], names: Sequence[str]) -> float | None:
    """The first time at which, after the (time, node, status) changes in order, every one of
    `names` is active; None if that never happens."""
    seen: dict[str, str] = {}
    for when, node, status in changes:
        seen[node] = status
        if all(seen.get(name) == "active" for name in names):
            return when
    return None


def wait_until(
    condition: Callable[[], bool], timeout: float, what: str, interval: float = WAIT_INTERVAL
) -> None:
    """Poll `condition` every `interval` seconds; LabError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise LabError(f"{what} not seen within {timeout} s")
        time.sleep(interval)


class Cluster(Protocol):
    """A cluster of one kind on the hosts of a lab."""

    label: str
    names: list[str]

    def start(self) -> float:
        """Start every node at once; the time just before the first was started."""

    def poll(self) -> None:
        """Read what the nodes have logged since the last call."""

    def changes(self, name: str) -> list[tuple[float, str, str]]:
        """(time, node, new status) of every status change node `name` reported, in order."""

    def up_time(self, name: str) -> float | None:
        """When node `name` last set itself `up` (its latest start), if it has."""

    def processes(self, name: str) -> list[int]:
        """Every process that makes node `name` now (host pids)."""

    def memory_processes(self, name: str) -> list[int]:
        """The processes of node `name` whose memory is its cost."""

    def listnodes_argv(self, name: str) -> list[str]:
        """The command that lists the cluster's nodes on node `name`."""

    def kill(self, name: str) -> float:
        """SIGKILL node `name`'s daemon (all of its processes); the time just before."""

    def restart(self, name: str) -> None:
        """Start the killed node `name` again."""

    def trouble(self, mark: dict[str, int]) -> dict[str, int]:
        """Deaths and late heartbeats logged since `mark` (from `marks`), by kind."""

    def marks(self) -> dict[str, int]:
        """A position in every node's log."""

    def close(self) -> None:
        """Stop every node."""


def statuses(cluster: Cluster, name: str) -> dict[str, str]:
    """What node `name` last reported of every node."""
    return {node: status for _when, node, status in cluster.changes(name)}


def wait_all_active(
    cluster: Cluster, timeout: float, names: Sequence[str] | None = None, interval: float = WAIT_INTERVAL
) -> None:
    """Wait until every node of `names` (all by default) sees every one of them active (looking
    every `interval` seconds)."""
    names = list(cluster.names if names is None else names)

    def missing() -> dict[str, list[str]]:
        cluster.poll()
        seen = {name: statuses(cluster, name) for name in names}
        return {
            name: [
                f"{other} {seen[name].get(other, 'unheard')}"
                for other in names
                if seen[name].get(other) != "active"
            ]
            for name in names
            if any(seen[name].get(other) != "active" for other in names)
        }

    try:
        wait_until(
            lambda: not missing(),
            timeout,
            f"{cluster.label}: {len(names)} nodes seeing each other active",
            interval,
        )
    except LabError as error:
        raise LabError(f"{error}; not active as seen by each node: {missing()}") from None


def death_seen(cluster: Cluster, observer: str, victim: str, since: float) -> float | None:
    """When `observer` first reported `victim` dead at or after `since`, if it has."""
    return next(
        (
            when
            for when, node, status in cluster.changes(observer)
            if node == victim and status == "dead" and when >= since
        ),
        None,
    )


class HbtwistCluster:
    """hbtwist daemons (`twistd heartbeat`) on `hosts`; one process per node."""

    label = "hbtwist"

    def __init__(
        self, lab: Lab, hosts: Sequence[Host], timing: Timing, realtime: bool, haresources: str = ""
    ) -> None:
        self.lab = lab
        self.hosts = {host.name: host for host in hosts}
        self.names = [host.name for host in hosts]
        self.timing = timing
        self.realtime = realtime
        self.haresources = haresources
        self.nodes: dict[str, Node] = {}
        self._changes: dict[str, list[tuple[float, str, str]]] = {}
        self._read: dict[str, int] = {}

    def start(self) -> float:
        """Start every daemon (they start in parallel: each is a new process)."""
        began = time.time()
        for host in self.hosts.values():
            config = ha_cf(host, list(self.hosts.values()), self.timing, self.realtime)
            self.nodes[host.name] = self.lab.start_hbtwist(host, config, AUTHKEYS, self.haresources)
        return began

    def poll(self) -> None:
        """Nothing to do: the JSON log is read when asked."""

    def changes(self, name: str) -> list[tuple[float, str, str]]:
        """From the node's `node_status_changed` events (its current daemon's)."""
        found = self._changes.setdefault(name, [])
        records = self.nodes[name].records()
        for record in records[self._read.get(name, 0) :]:
            if record.get("event") == "node_status_changed":
                found.append((float(record["time"]), record["node"], record["new"]))
        self._read[name] = len(records)
        return found

    def up_time(self, name: str) -> float | None:
        """The time of the node's own latest `up` event."""
        return _last_up(self.changes(name), name)

    def processes(self, name: str) -> list[int]:
        """Every process in the node's network namespace: the daemon and any child it runs."""
        return procstat.network_namespace_members(self.hosts[name].netns)

    def memory_processes(self, name: str) -> list[int]:
        """The twistd process."""
        return [self.nodes[name].pid]

    def listnodes_argv(self, name: str) -> list[str]:
        """`hbctl listnodes` against the node's control socket."""
        return [*HBCTL, "listnodes", "--control", control_address(self.lab, self.nodes[name])]

    def kill(self, name: str) -> float:
        """SIGKILL the twistd process and reap it."""
        node = self.nodes[name]
        killed_at = time.time()
        node.kill(signal.SIGKILL)
        node.wait()
        return killed_at

    def restart(self, name: str) -> None:
        """A new daemon on the same host, configuration and state (a new generation)."""
        node = self.nodes[name]
        Path(control_address(self.lab, node).removeprefix("unix:")).unlink(missing_ok=True)
        self.nodes[name] = self.lab.restart(node)
        self._changes[name], self._read[name] = [], 0

    def marks(self) -> dict[str, int]:
        """How many records each node has logged."""
        return {name: len(node.records()) for name, node in self.nodes.items()}

    def trouble(self, mark: dict[str, int]) -> dict[str, int]:
        """Node and link deaths, late heartbeats and own stalls in the events since `mark`."""
        counts = {"node deaths": 0, "link deaths": 0, "late heartbeats": 0, "own stalls": 0}
        kinds = {"late_heartbeat": "late heartbeats", "local_stall": "own stalls"}
        for name, node in self.nodes.items():
            for record in node.records()[mark.get(name, 0) :]:
                kind, new = record.get("event"), record.get("new")
                if kind == "node_status_changed" and new == "dead":
                    counts["node deaths"] += 1
                elif kind == "link_status_changed" and new == "dead":
                    counts["link deaths"] += 1
                elif kind in kinds:
                    counts[kinds[kind]] += 1
        return counts

    def close(self) -> None:
        """The lab stops the daemons when it closes."""


class StampedLog:
    """A log file read as it grows; each complete line stamped with when it was first read."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines: list[tuple[float, str]] = []
        self._offset = 0
        self._partial = b""

    def poll(self) -> None:
        """Read and stamp the lines written since the last call."""
        now = time.time()
        try:
            with open(self.path, "rb") as log:
                log.seek(self._offset)
                data = log.read()
        except FileNotFoundError:
            return
        self._offset += len(data)
        *complete, self._partial = (self._partial + data).split(b"\n")
        self.lines += [(now, line.decode(errors="replace")) for line in complete]


class HeartbeatCluster:
    """Heartbeat 3.0.6 daemons on `hosts`, each in namespaces of its own
    (`tests/integration/realheartbeat.py`); a node is its master control process and the children
    it forks (FIFO reader, a reader and a writer per medium, the scripts it runs)."""

    label = "Heartbeat 3.0.6"

    def __init__(
        self, lab: Lab, hosts: Sequence[Host], timing: Timing, realtime: bool, haresources: str = ""
    ) -> None:
        self.lab = lab
        self.names = [host.name for host in hosts]
        self.daemons = {
            host.name: RealHeartbeat(
                lab, host, ha_cf(host, hosts, timing, realtime), AUTHKEYS, haresources
            )
            for host in hosts
        }
        self.logs = {name: StampedLog(daemon.log_path) for name, daemon in self.daemons.items()}
        self._changes: dict[str, list[tuple[float, str, str]]] = {name: [] for name in self.names}
        self._parsed = dict.fromkeys(self.names, 0)

    def start(self) -> float:
        """Start every daemon at once (one thread each: a start returns once the node is up)."""
        began = time.time()
        with ThreadPoolExecutor(max_workers=len(self.daemons)) as pool:
            started = [pool.submit(daemon.start) for daemon in self.daemons.values()]
            while not all(future.done() for future in started):
                self.poll()
                time.sleep(POLL_INTERVAL)
            for future in started:
                future.result()
        return began

    def poll(self) -> None:
        """Read every node's log."""
        for log in self.logs.values():
            log.poll()

    def changes(self, name: str) -> list[tuple[float, str, str]]:
        """From the node's `Status update`, `Local status now set to` and `is dead` lines."""
        found = self._changes[name]
        lines = self.logs[name].lines
        for when, line in lines[self._parsed[name] :]:
            if match := STATUS_LINE.search(line):
                found.append((when, match.group(1), match.group(2)))
            elif match := LOCAL_STATUS_LINE.search(line):
                found.append((when, name, match.group(1)))
            elif match := DEAD_LINE.search(line):
                found.append((when, match.group(1), "dead"))
        self._parsed[name] = len(lines)
        return found

    def up_time(self, name: str) -> float | None:
        """When the node's latest `Local status now set to: 'up'` line was read."""
        return _last_up(self.changes(name), name)

    def processes(self, name: str) -> list[int]:
        """Every process in the daemon's PID namespace but the lab's init shell (the daemon's
        parent, which only waits for it)."""
        daemon = self.daemons[name]
        if daemon.pid is None:
            return []
        return [pid for pid in procstat.pid_namespace_members(daemon.pid) if pid != daemon.init_pid]

    def memory_processes(self, name: str) -> list[int]:
        """The processes running the heartbeat binary (master and its forked children)."""
        return [pid for pid in self.processes(name) if _exe(pid) == str(HEARTBEAT)]

    def listnodes_argv(self, name: str) -> list[str]:
        """`cl_status listnodes` beside the daemon (nsenter into its namespaces)."""
        return [*self.beside_argv(name), "cl_status", "listnodes"]

    def beside_argv(self, name: str) -> list[str]:
        """The nsenter prefix that runs a command beside the node's daemon."""
        return ["nsenter", "-t", str(self.daemons[name].pid), "-m", "-u", "-n", "-p"]

    def kill(self, name: str) -> float:
        """SIGKILL the master control process; its namespace, children included, goes with it."""
        killed_at = time.time()
        self.daemons[name].kill()
        return killed_at

    def restart(self, name: str) -> None:
        """New namespaces, the same files (its generation goes up); returns once it is up."""
        self.daemons[name].restart()

    def marks(self) -> dict[str, int]:
        """How many lines of each node's log have been read."""
        self.poll()
        return {name: len(log.lines) for name, log in self.logs.items()}

    def trouble(self, mark: dict[str, int]) -> dict[str, int]:
        """`is dead`, `Link ... dead.` and `Late heartbeat` lines since `mark`."""
        self.poll()
        counts = dict.fromkeys(HEARTBEAT_TROUBLE, 0)
        for name, log in self.logs.items():
            for _when, line in log.lines[mark.get(name, 0) :]:
                for kind, pattern in HEARTBEAT_TROUBLE.items():
                    counts[kind] += bool(pattern.search(line))
        return counts

    def close(self) -> None:
        """SIGKILL every daemon (a benchmark needs no clean shutdown); nothing is left running."""
        for daemon in self.daemons.values():
            daemon.kill()


def _last_up(changes: list[tuple[float, str, str]], name: str) -> float | None:
    ups = [when for when, node, status in changes if (node, status) == (name, "up")]
    return ups[-1] if ups else None


def _exe(pid: int) -> str | None:
    try:
        return str(Path(f"/proc/{pid}/exe").readlink())
    except OSError:
        return None


STARTUP_SECONDS = 5.0
"""For this long after it sets itself up, a node (Heartbeat, and hbtwist likewise) advertises and
uses its deadtime + 2 s."""


def wait_startup_over(clusters: Sequence[Cluster], keepalive_ms: int, extra: float = 0.0) -> None:
    """Sleep until every node of `clusters` is past its start-up period (its real deadtime
    advertised once), plus `extra` seconds."""
    ups = [cluster.up_time(name) for cluster in clusters for name in cluster.names]
    if any(up is None for up in ups):
        raise LabError("a node has not set itself up")
    newest = max(up for up in ups if up is not None)
    remaining = newest + STARTUP_SECONDS + 2 * keepalive_ms / 1000 + extra - time.time()
    if remaining > 0:
        time.sleep(remaining)


def unwind_on_termination() -> None:
    """Make SIGTERM and SIGHUP raise SystemExit, so that an interrupted run unwinds its labs
    (namespaces and daemons) as an exception would."""

    def interrupted(signum: int, _frame: object) -> None:
        raise SystemExit(f"stopped by signal {signum}")

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, interrupted)
