"""Heartbeat's Cluster Test Suite (spec 10) on hbtwist clusters of three and two nodes, and on a
mixed two-node cluster of hbtwist and a real Heartbeat 3.0.6: CTS's release-1 tests in sequence,
each followed by its resource audit and a scan of every node's log for the lines CTS counts as bad
news; and the audit itself catches what it must."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence

import pytest

from hbtwist.control.logfiles import file_formatter, record_of
from hbtwist.control.wording import wording
from hbtwist.core import events
from tests.integration.cts import (
    BAD_REGEXES,
    SCENARIOS,
    THEY_DEAD,
    THEY_STOPPED,
    CtsCluster,
    Scenario,
    mixed_scenarios,
    run_scenario,
)
from tests.integration.ctsheartbeat import HEARTBEAT_TIMERS
from tests.integration.lab import Lab
from tests.integration.realheartbeat import require_real_heartbeat

Report = Callable[[str], None]

THREE_NODES = ("n1", "n2", "n3")
MIXED_HEARTBEAT_NODE = "n2"
"""The mixed cluster's Heartbeat node; n1 runs hbtwist."""


@pytest.fixture
def cts(lab: Lab) -> Iterator[CtsCluster]:
    """Three configured nodes, none running; every daemon stopped afterwards."""
    with CtsCluster(lab, THREE_NODES) as cluster:
        yield cluster


@pytest.mark.parametrize("nodes", [THREE_NODES, THREE_NODES[:2]], ids=["3 nodes", "2 nodes"])
def test_scenarios_pass_the_resource_audit(lab: Lab, nodes: tuple[str, ...], report: Report) -> None:
    """Each CTS test (Flip, Restart, StartOnebyOne, SimulStart, SimulStop, StopOnebyOne,
    RestartOnebyOne, standby, SpecialTest1, Split_brain) sees CTS's log patterns, then every
    group runs on exactly one running node with its resources together and its status checks
    passing, and no node logged a BadRegexes line (Split_brain: but those it expects)."""
    with CtsCluster(lab, nodes) as cluster:
        run_all(cluster, SCENARIOS, report)


def test_scenarios_pass_the_resource_audit_on_a_mixed_cluster(lab: Lab, report: Report) -> None:
    """On two nodes, n1 running hbtwist and n2 a real Heartbeat 3.0.6 with its own resource
    scripts, each CTS test but Split_brain (with a standby asked of each node) sees CTS's log
    patterns in both
    daemons' logs, then every group runs on exactly one running node with its resources together,
    its status checks pass, both daemons report the same holders, and neither logged a
    BadRegexes line (but Heartbeat's ERROR about memory locking, which every start here logs)."""
    require_real_heartbeat()
    nodes = THREE_NODES[:2]
    with CtsCluster(lab, nodes, (MIXED_HEARTBEAT_NODE,), HEARTBEAT_TIMERS) as cluster:
        run_all(cluster, mixed_scenarios(MIXED_HEARTBEAT_NODE), report)


def run_all(cluster: CtsCluster, scenarios: Sequence[Scenario], report: Report) -> None:
    """Run the scenarios in turn, reporting each one's time; fail at the first that fails."""
    started = time.monotonic()
    for name, action, node in scenarios:
        outcome = run_scenario(cluster, name, action, node)
        verdict = "FAILED" if outcome.problems else "passed"
        report(f"CTS {outcome.title}: {verdict} in {outcome.seconds:.1f} s")
        for note in outcome.notes:
            report(f"CTS {outcome.title}: {note}")
        problems = "\n".join(outcome.problems)
        assert not outcome.problems, f"CTS {outcome.title} failed:\n{problems}\n{cluster.tails()}"
    report(f"CTS: all {len(scenarios)} scenarios in {time.monotonic() - started:.1f} s")


def test_audit_catches_duplicates_and_leftovers(cts: CtsCluster) -> None:
    """With no node running, a resource left on a stopped node, or one group's address on two
    hosts, is a fatal audit problem; the clean cluster passes."""
    assert cts.audit(timeout=0) == []
    n2, n3 = cts.nodes["n2"], cts.nodes["n3"]
    (n2.markers / "a").touch()
    problems = cts.audit(timeout=0)
    assert problems[0] == "FATAL"
    assert "Resource Marker::a runs on stopped node(s) ['n2']" in problems
    (n2.markers / "a").unlink()
    address = cts.groups[0].address
    for node in (n2, n3):
        node.host.run("ip", "addr", "add", f"{address}/24", "dev", "eth0")
    problems = cts.audit(timeout=0)
    assert f"Resource {cts.groups[0].ip_resource} served too many times: ['n2', 'n3']" in problems


def test_heartbeat_lines_match_cts_patterns() -> None:
    """A peer's death, as the daemon logs it to ha.cf's logfile, matches CTS's They_stopped and
    They_dead, and no BadRegexes pattern."""
    event = events.NodeStatusChanged("n1", "active", "dead", 7)
    level, text = wording(event, "n2")
    line = file_formatter("n2").format(record_of({"log_level": level, "log_format": text, "node": "n1"}))
    assert re.search(THEY_STOPPED % ("n2", "n1"), line), line
    assert re.search(THEY_DEAD % "n1", line), line
    assert not any(re.search(regex, line) for regex in BAD_REGEXES), line
