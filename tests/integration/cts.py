"""Heartbeat's Cluster Test Suite (spec 10) on an hbtwist cluster: its ways of starting and
stopping nodes, its log patterns (`CM_hb.py`) and its resource audit (`CTSaudits.py`).

Each node is started as CTS starts a cluster manager: `twistd heartbeat` daemonizes and writes a
pidfile, and the start counts once the node's ha.cf `logfile` shows CTS's start pattern. A stop
is SIGTERM to the pidfile's process, confirmed by CTS's stop patterns in the logs of the node and
of every other running node; a standby is `hbctl standby`. Every node logs to its own file in
Heartbeat's layout; a pattern is looked for in all of them, as CTS looks in its one log.

One group per node, preferred by it (`ctsnode.py`). `CtsCluster.audit` is CTS's ResourceAudit
(`ctsaudit.py`). `SCENARIOS` are CTS's tests for a release-1 cluster, in an order that needs few
starts; `run_scenario` runs one, then the audit and a scan of every log for CTS's BadRegexes.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from hbtwist.core.holders import GroupSpec, taker
from tests.integration.ctsaudit import Audit
from tests.integration.ctsnode import STOP_WAIT, CtsNode, Group
from tests.integration.lab import Lab, LabError

START_TIMEOUT = 20.0
"""CTS waits StartTime + 10 s; a node alone waits initdead, a busy machine takes longer."""
STANDBY_TRIES = 10
"""CTS retries a standby that a node in transition ignored, up to ten times."""

# CM_hb.py's patterns, verbatim.
WE_STARTED = r" (%s) .* Initial resource acquisition complete"
THEY_STARTED = r" (%s) .* Initial resource acquisition complete"
WE_STOPPED = r"%s heartbeat.*Heartbeat shutdown complete"
THEY_STOPPED = r"%s heartbeat.*node (%s).*: is dead"
THEY_DEAD = r"node (%s).*: is dead"
ALL_STOPPED = r" (%s).*heartbeat.*Heartbeat shutdown complete"
STANDBY_OK = r"Standby resource acquisition done"
STANDBY_NONE = r"No reply to standby request"
STANDBY_TRANSIENT = r"standby message.*ignored.*in flux"
BAD_REGEXES = (
    r"Shutting down\.",
    r"Forcing shutdown\.",
    r"Both machines own .* resources!",
    r"No one owns .* resources!",
    r", exiting\.",
    r"ERROR:",
    r"CRIT.*:",
)

Mark = dict[str, int]
"""Where each node's log stood at one moment."""


class CtsCluster:
    """The nodes, which of them CTS believes up, and CTS's operations on them."""

    def __init__(self, lab: Lab, names: Sequence[str]) -> None:
        self.lab = lab
        self.order = tuple(names)
        hosts = [lab.add_host(name, index) for index, name in enumerate(names, start=1)]
        self.groups = tuple(
            Group(host.name, f"192.0.2.{100 + host.index}", chr(ord("a") + host.index - 1))
            for host in hosts
        )
        self.nodes = {host.name: CtsNode(lab, host, self.order, self.groups) for host in hosts}
        self.up: set[str] = set()
        self.expected: dict[str, str | None] = {group.key: None for group in self.groups}
        """Where each group should run (None: nowhere), by its key; see `_settle`."""

    # The logs

    def mark(self) -> Mark:
        """Where every node's log stands now."""
        return {name: node.log.size() for name, node in self.nodes.items()}

    def lines_since(self, mark: Mark) -> Iterable[tuple[str, str]]:
        """(node, line) for every line logged since `mark`."""
        for name, node in self.nodes.items():
            lines, _ = node.log.lines_from(mark.get(name, 0))
            for line in lines:
                yield name, line

    def look_for_all(self, patterns: Sequence[str], mark: Mark, timeout: float, what: str) -> None:
        """CTS's `lookforall`: wait until every pattern matched a line logged since `mark`
        (each line matching at most one pattern); raise LabError naming what was missing."""
        wanted = list(patterns)
        offsets = dict(mark)
        deadline = time.monotonic() + timeout
        while wanted:
            for name, node in self.nodes.items():
                lines, offsets[name] = node.log.lines_from(offsets.get(name, 0))
                for line in lines:
                    found = next((p for p in wanted if re.search(p, line)), None)
                    if found is not None:
                        wanted.remove(found)
            if not wanted:
                return
            if time.monotonic() > deadline:
                raise LabError(
                    f"{what}: patterns not found within {timeout} s: {wanted}\n{self.tails()}"
                )
            time.sleep(0.05)

    def bad_news(self, mark: Mark) -> list[str]:
        """The lines logged since `mark` that match CTS's BadRegexes."""
        return [
            f"{name}: {line}"
            for name, line in self.lines_since(mark)
            if any(re.search(regex, line) for regex in BAD_REGEXES)
        ]

    def tails(self) -> str:
        """The end of every node's log."""
        return "\n".join(f"--- {name} ---\n{node.log.tail()}" for name, node in self.nodes.items())

    # CTS's operations

    def start(self, names: Sequence[str]) -> None:
        """StartaCM for one node, SimulStartLite for several: start them all at once and wait
        for each one's `Initial resource acquisition complete`."""
        names = [name for name in names if name not in self.up]
        if not names:
            return
        mark = self.mark()
        for name in names:
            self.nodes[name].start()
        patterns = [(WE_STARTED if not self.up else THEY_STARTED) % name for name in names]
        self.up.update(names)
        for group in self.groups:
            if group.preferred in names:
                self.expected[group.key] = group.preferred
        self._settle()
        self.look_for_all(patterns, mark, START_TIMEOUT, f"start {' '.join(names)}")

    def stop(self, names: Sequence[str]) -> None:
        """StopTest for one node (its shutdown complete, every other running node seeing it
        dead), SimulStopLite for several (each one's shutdown complete)."""
        names = [name for name in names if name in self.up]
        if not names:
            return
        mark = self.mark()
        if len(names) == 1:
            (name,) = names
            others = sorted(self.up - {name})
            patterns = [WE_STOPPED % name, *(THEY_STOPPED % (other, name) for other in others)]
        else:
            patterns = [ALL_STOPPED % name for name in names]
        for name in names:
            self.nodes[name].stop()
        self.up.difference_update(names)
        self._settle()
        self.look_for_all(patterns, mark, STOP_WAIT, f"stop {' '.join(names)}")
        for name in names:
            self.nodes[name].wait_exit()

    def standby(self, name: str) -> None:
        """StandbyTest: `hbctl standby` on `name`, then `Standby resource acquisition done`
        (`No reply to standby request` when it is the only node up); retried while a node
        reports its resources in flux."""
        alone = len(self.up) < 2
        expected = STANDBY_NONE if alone else STANDBY_OK
        for _ in range(STANDBY_TRIES):
            mark = self.mark()
            self.nodes[name].hbctl("standby")
            self.look_for_all(
                [f"{expected}|{STANDBY_TRANSIENT}"], mark, START_TIMEOUT, f"standby {name}"
            )
            if not any(re.search(STANDBY_TRANSIENT, line) for _, line in self.lines_since(mark)):
                break
            time.sleep(0.5)
        else:
            raise LabError(f"standby {name}: resources still in flux after {STANDBY_TRIES} tries")
        if not alone:
            self._settle(giver=name)

    # What the audit expects

    def _settle(self, giver: str | None = None) -> None:
        """With `auto_failback on` a group stays where it runs, except that its preferred node
        gets it back when it starts (see `start`); a group on a stopped node, or on a node
        going standby (`giver`), goes to the taker rule's node (doc/failover.md)."""
        for group in self.groups:
            holder = self.expected[group.key]
            if holder not in self.up or holder == giver:
                spec = GroupSpec(group.key, group.preferred)
                exclude = () if giver is None else (giver,)
                self.expected[group.key] = taker(spec, self.order, self.up, exclude)

    def expected_holder(self, group: Group) -> str | None:
        """Where `group` should run now (None: nowhere)."""
        return self.expected[group.key]

    def audit(self, timeout: float = START_TIMEOUT) -> list[str]:
        """CTS's ResourceAudit once the cluster settled: the problems found (empty: passed)."""
        return Audit(self).run(timeout)

    def close(self) -> None:
        """Stop every daemon still running (SIGKILL if one lingers)."""
        for node in self.nodes.values():
            node.kill()
        self.up.clear()

    def __enter__(self) -> CtsCluster:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# CTS's tests (CTStests.py), as functions of the cluster and the node they are given.

Action = Callable[[CtsCluster, str], None]


def flip(cluster: CtsCluster, node: str) -> None:
    """FlipTest: stop the node if it runs, else start it."""
    if node in cluster.up:
        cluster.stop([node])
    else:
        cluster.start([node])


def restart(cluster: CtsCluster, node: str) -> None:
    """RestartTest: stop the node if it runs, then start it."""
    cluster.stop([node])
    cluster.start([node])


def start_one_by_one(cluster: CtsCluster, node: str) -> None:
    """StartOnebyOne: stop every node at once, then start them one after another."""
    cluster.stop(sorted(cluster.up))
    for name in cluster.order:
        cluster.start([name])


def simul_start(cluster: CtsCluster, node: str) -> None:
    """SimulStart: stop every node at once, then start them all at once."""
    cluster.stop(sorted(cluster.up))
    cluster.start(cluster.order)


def simul_stop(cluster: CtsCluster, node: str) -> None:
    """SimulStop: start every stopped node at once, then stop them all at once."""
    cluster.start(cluster.order)
    cluster.stop(cluster.order)


def stop_one_by_one(cluster: CtsCluster, node: str) -> None:
    """StopOnebyOne: start every stopped node at once, then stop them one after another."""
    cluster.start(cluster.order)
    for name in cluster.order:
        cluster.stop([name])


def restart_one_by_one(cluster: CtsCluster, node: str) -> None:
    """RestartOnebyOne: start every stopped node at once, then restart each in turn."""
    cluster.start(cluster.order)
    for name in cluster.order:
        restart(cluster, name)


def standby(cluster: CtsCluster, node: str) -> None:
    """StandbyTest: `hbctl standby` on the node."""
    cluster.standby(node)


def special_test1(cluster: CtsCluster, node: str) -> None:
    """SpecialTest1: stop every node, restart the given one alone, then start the rest."""
    cluster.stop(sorted(cluster.up))
    restart(cluster, node)
    cluster.start(cluster.order)


SCENARIOS: tuple[tuple[str, Action, str], ...] = (
    ("SimulStart", simul_start, ""),
    ("Flip", flip, "n1"),
    ("Restart", restart, "n2"),
    ("Flip", flip, "n1"),
    ("StartOnebyOne", start_one_by_one, ""),
    ("standby", standby, "n1"),
    ("RestartOnebyOne", restart_one_by_one, ""),
    ("StopOnebyOne", stop_one_by_one, ""),
    ("SpecialTest1", special_test1, "n1"),
    ("SimulStop", simul_stop, ""),
)
"""(CTS test name, its action, the node it is given), from a cluster with every node stopped:
each test from the state the one before left, as CTS runs them."""


@dataclass(frozen=True)
class Outcome:
    """How one scenario went."""

    name: str
    node: str
    seconds: float
    problems: tuple[str, ...]

    @property
    def title(self) -> str:
        """The scenario as reported: its CTS name and node."""
        return f"{self.name}({self.node})" if self.node else self.name


def run_scenario(cluster: CtsCluster, name: str, action: Action, node: str) -> Outcome:
    """Run one CTS test, then the audit; the problems found, BadRegexes matches included."""
    mark = cluster.mark()
    started = time.monotonic()
    try:
        action(cluster, node)
    except LabError as error:
        problems = [str(error)]
    else:
        problems = cluster.audit()
    problems += [f"BadNews: {line}" for line in cluster.bad_news(mark)]
    return Outcome(name, node, time.monotonic() - started, tuple(problems))
