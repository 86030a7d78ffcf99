"""Heartbeat's Cluster Test Suite (spec 10) on an hbtwist cluster, or on a mixed one with
Heartbeat 3.0.6 nodes: CTS's ways of starting and stopping nodes, its log patterns (`CM_hb.py`,
in `ctspatterns.py`) and its resource audit (`CTSaudits.py`).

Each node is started as CTS starts a cluster manager (an hbtwist node by `twistd heartbeat`,
which daemonizes: `ctsnode.py`; a Heartbeat node in namespaces of its own: `ctsheartbeat.py`),
and the start counts once CTS's start pattern is logged. A stop is SIGTERM to the daemon,
confirmed by CTS's stop patterns in the logs of the node and of every other running node; a
standby is `hbctl standby` or `hb_standby`. Every node logs to its own file in Heartbeat's
layout; a pattern is looked for in all of them, as CTS looks in its one log. Every wait is
bounded by the cluster's `Timers`. Split_brain isolates a node as `TestHeartbeatComm
break-communication` does: Heartbeat's `OnlyForTesting` file, then a reload (SIGHUP). The tests
that kill a daemon, reset a node or take an interface down are in `ctsfaults.py`; the exerciser's
STONITH device, which may also be the nodes' own, in `ctsstonith.py`.

One group per node, preferred by it. `CtsCluster.audit` is CTS's ResourceAudit (`ctsaudit.py`).
`SCENARIOS` are CTS's tests for a release-1 cluster, in an order that needs few starts;
`run_scenario` runs one, then the audit and a scan of every log for CTS's BadRegexes.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass

from hbtwist.core.holders import GroupSpec, taker
from tests.integration.ctsaudit import Audit
from tests.integration.ctsfaults import detection_time, redundant_path, stonith
from tests.integration.ctsheartbeat import HeartbeatNode
from tests.integration.ctsnode import HBTWIST_TIMERS, CtsMember, CtsNode, Group, Timers
from tests.integration.ctspatterns import (
    ALL_STOPPED,
    BAD_REGEXES,
    RETURN_PARTITION,
    SPLIT_BRAIN_EXPECTED,
    STANDBY_NONE,
    STANDBY_OK,
    STANDBY_TRANSIENT,
    THEY_STARTED,
    THEY_STOPPED,
    WE_STARTED,
    WE_STOPPED,
)
from tests.integration.ctsstonith import PowerSwitch
from tests.integration.lab import Lab, LabError

STANDBY_TRIES = 10
"""CTS retries a standby that a node in transition ignored, up to ten times."""
STANDBY_RETRY_PAUSE = 0.5
"""Before a standby is asked again (CTS pauses 2 s), so that the transition can end."""
POLL_S = 0.05
"""How often the logs are read while patterns are awaited."""

Mark = dict[str, int]
"""Where each node's log stood at one moment."""


class CtsCluster:
    """The nodes, which of them CTS believes up, and CTS's operations on them."""

    def __init__(
        self,
        lab: Lab,
        names: Sequence[str],
        heartbeat_nodes: Collection[str] = (),
        timers: Timers = HBTWIST_TIMERS,
        power: PowerSwitch | None = None,
        fencing: bool = False,
    ) -> None:
        """`names` in ha.cf's order; those in `heartbeat_nodes` run Heartbeat 3.0.6, the others
        hbtwist. `power` is the exerciser's STONITH device (CTS's `reset`, for the Stonith
        test); with `fencing`, every node's ha.cf names it too (`stonith_host`), so the nodes
        reset a dead peer before they take its groups over (hbtwist nodes only)."""
        if fencing and (power is None or heartbeat_nodes):
            raise ValueError("fencing needs the power switch, and hbtwist nodes only")
        self.lab = lab
        self.order = tuple(names)
        self.timers = timers
        self.power = power
        self.fencing = fencing
        hosts = [lab.add_host(name, index) for index, name in enumerate(names, start=1)]
        self.groups = tuple(
            Group(host.name, f"192.0.2.{100 + host.index}", chr(ord("a") + host.index - 1))
            for host in hosts
        )
        self.nodes: dict[str, CtsMember] = {}
        stonith_host = power.stonith_host if fencing and power is not None else None
        for host in hosts:
            if host.name in heartbeat_nodes:
                self.nodes[host.name] = HeartbeatNode(lab, host, self.order, self.groups, timers)
            else:
                self.nodes[host.name] = CtsNode(lab, host, self.order, self.groups, timers, stonith_host)
        self.up: set[str] = set()
        self.expected: dict[str, str | None] = {group.key: None for group in self.groups}
        """Where each group should run (None: nowhere), by its key; see `_settle`."""
        self.notes: list[str] = []
        """What the run noted for the report: standbys asked again, detection times."""
        self.detection_times: list[float] = []
        """DetectionTime's measurements, in seconds: CTS's `min` and `max` of the run."""
        self.started_at: dict[str, float] = {}
        """When each node's start was last seen complete (`time.monotonic()`)."""
        self.logged_at_start: Mark = {}
        """Where each node's log stood when the node was last started."""

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

    def look_for_all(
        self, patterns: Sequence[str], mark: Mark, timeout: float, what: str, poll: float = POLL_S
    ) -> None:
        """CTS's `lookforall`: wait until every pattern matched a line logged since `mark`
        (each line matching at most one pattern), reading the logs every `poll` seconds; raise
        LabError naming what was missing."""
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
            time.sleep(poll)

    def absent(self, patterns: Sequence[str], mark: Mark, seconds: float, what: str) -> None:
        """Watch the logs for `seconds` from now: raise LabError at the first line logged since
        `mark` that matches one of `patterns`."""
        offsets = dict(mark)
        deadline = time.monotonic() + seconds
        while True:
            for name, node in self.nodes.items():
                lines, offsets[name] = node.log.lines_from(offsets.get(name, 0))
                found = [line for line in lines if any(re.search(p, line) for p in patterns)]
                if found:
                    raise LabError(f"{what}: {name} logged {found[0]!r}\n{self.tails()}")
            if time.monotonic() > deadline:
                return
            time.sleep(POLL_S)

    def bad_news(self, mark: Mark) -> list[str]:
        """The lines logged since `mark` that match CTS's BadRegexes, but for a node's
        environment noise."""
        return [
            f"{name}: {line}"
            for name, line in self.lines_since(mark)
            if any(re.search(regex, line) for regex in BAD_REGEXES)
            and not any(re.search(noise, line) for noise in self.nodes[name].environment_noise)
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
        self.logged_at_start.update({name: mark[name] for name in names})
        for name in names:
            self.nodes[name].start()
        patterns = [(WE_STARTED if not self.up else THEY_STARTED) % name for name in names]
        self.up.update(names)
        for group in self.groups:
            if group.preferred in names:
                self.expected[group.key] = group.preferred
        self._settle()
        self.look_for_all(patterns, mark, self.timers.start_timeout, f"start {' '.join(names)}")
        self.started_at.update(dict.fromkeys(names, time.monotonic()))

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
        self.look_for_all(patterns, mark, self.timers.stop_timeout, f"stop {' '.join(names)}")
        for name in names:
            self.nodes[name].wait_exit(self.timers.stop_timeout)

    def standby(self, name: str) -> None:
        """StandbyTest: the node's standby command, then `Standby resource acquisition done`
        (`No reply to standby request` when it is the only node up); asked again while a node
        reports its resources in flux."""
        alone = len(self.up) < 2
        expected = STANDBY_NONE if alone else STANDBY_OK
        for _ in range(STANDBY_TRIES):
            mark = self.mark()
            self.nodes[name].request_standby()
            self.look_for_all(
                [f"{expected}|{STANDBY_TRANSIENT}"], mark, self.timers.standby_timeout, f"standby {name}"
            )
            ignored = [
                f"{node}: {line}"
                for node, line in self.lines_since(mark)
                if re.search(STANDBY_TRANSIENT, line)
            ]
            if not ignored:
                break
            self.notes += [f"standby {name} asked again after {line}" for line in ignored]
            time.sleep(STANDBY_RETRY_PAUSE)
        else:
            raise LabError(f"standby {name}: resources still in flux after {STANDBY_TRIES} tries")
        if not alone:
            self._settle(giver=name)

    def lost(self, name: str) -> None:
        """The node went down without a stop (killed, reset): CTS's `ShouldBeStatus` down."""
        self.up.discard(name)
        self._settle()

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

    def audit(self, timeout: float | None = None) -> list[str]:
        """CTS's ResourceAudit once the cluster settled (within `timeout`, by default a start's):
        the problems found (empty: passed)."""
        return Audit(self).run(self.timers.start_timeout if timeout is None else timeout)

    def close(self) -> None:
        """Stop every daemon still running (SIGKILL if one lingers)."""
        for node in self.nodes.values():
            node.kill()
        self.up.clear()

    def __enter__(self) -> CtsCluster:
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, traceback: object) -> None:
        """Close; a failure to stop a daemon is raised unless it would hide the block's own
        failure (the lab kills what is left when it closes)."""
        try:
            self.close()
        except LabError:
            if exc is None:
                raise


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


def split_brain(cluster: CtsCluster, node: str) -> None:
    """Split_brainTest: start every stopped node; isolate the node (`TestHeartbeatComm
    break-communication`: it neither sends nor hears); each side logs the other dead; heal it;
    every node is said to return after the partition and logs its acquisition complete."""
    cluster.start([name for name in cluster.order if name not in cluster.up])
    others = [name for name in cluster.order if name != node]
    timeout = cluster.timers.start_timeout + cluster.timers.deadtime_ms / 1000
    mark = cluster.mark()
    cluster.nodes[node].break_communication()
    stopped = [THEY_STOPPED % pair for other in others for pair in ((node, other), (other, node))]
    cluster.look_for_all(stopped, mark, timeout, f"isolating {node}")
    mark = cluster.mark()
    cluster.nodes[node].fix_communication()
    returned = [RETURN_PARTITION % name for name in cluster.order]
    started = [WE_STARTED % name for name in cluster.order]
    cluster.look_for_all([*returned, *started], mark, timeout, f"{node} returning after the partition")


def special_test1(cluster: CtsCluster, node: str) -> None:
    """SpecialTest1: stop every node, restart the given one alone, then start the rest."""
    cluster.stop(sorted(cluster.up))
    restart(cluster, node)
    cluster.start(cluster.order)


Scenario = tuple[str, Action, str]

SCENARIOS: tuple[Scenario, ...] = (
    ("SimulStart", simul_start, ""),
    ("RedundantpathTest", redundant_path, "n1"),
    ("Flip", flip, "n1"),
    ("Restart", restart, "n2"),
    ("Flip", flip, "n1"),
    ("StartOnebyOne", start_one_by_one, ""),
    ("DetectionTime", detection_time, "n1"),
    ("standby", standby, "n1"),
    ("RestartOnebyOne", restart_one_by_one, ""),
    ("Stonith", stonith, "n1"),
    ("StopOnebyOne", stop_one_by_one, ""),
    ("SpecialTest1", special_test1, "n1"),
    ("Split_brain", split_brain, "n1"),
    ("SimulStop", simul_stop, ""),
)
"""(CTS test name, its action, the node it is given), from a cluster with every node stopped:
each test from the state the one before left, as CTS runs them."""

FENCING_SCENARIOS: tuple[Scenario, ...] = (
    ("SimulStart", simul_start, ""),
    ("Stonith", stonith, "n1"),
    ("SimulStop", simul_stop, ""),
)
"""The Stonith test on a cluster whose nodes fence with the lab's device (`CtsCluster.fencing`).
Not SCENARIOS on such a cluster: in Split_brain each side would reset the other, as it should
with a device, where CTS expects both sides to come back after the partition."""


def mixed_scenarios(node: str) -> tuple[Scenario, ...]:
    """SCENARIOS for a mixed cluster: the standby test given `node` too, right after the first
    one (a standby asked of each kind of daemon). In Split_brain the Heartbeat 3.0.6 node
    restarts itself once the partition heals (`Performing heartbeat restart exec`)."""
    first = next(index for index, (name, _, _) in enumerate(SCENARIOS) if name == "standby")
    return (*SCENARIOS[: first + 1], ("standby", standby, node), *SCENARIOS[first + 1 :])


@dataclass(frozen=True)
class Outcome:
    """How one scenario went."""

    name: str
    node: str
    seconds: float
    problems: tuple[str, ...]
    notes: tuple[str, ...]
    """What had to be made good on the way (standbys asked again)."""

    @property
    def title(self) -> str:
        """The scenario as reported: its CTS name and node."""
        return f"{self.name}({self.node})" if self.node else self.name


def run_scenario(cluster: CtsCluster, name: str, action: Action, node: str) -> Outcome:
    """Run one CTS test, then the audit; the problems found, BadRegexes matches included."""
    mark = cluster.mark()
    notes = len(cluster.notes)
    started = time.monotonic()
    try:
        action(cluster, node)
        problems = cluster.audit()
    except LabError as error:
        problems = [str(error)]
    expected = SPLIT_BRAIN_EXPECTED if action is split_brain else ()
    problems += [
        f"BadNews: {line}"
        for line in cluster.bad_news(mark)
        if not any(re.search(pattern, line) for pattern in expected)
    ]
    seconds = time.monotonic() - started
    return Outcome(name, node, seconds, tuple(problems), tuple(cluster.notes[notes:]))
