"""Heartbeat's Cluster Test Suite (spec 10) on hbtwist clusters of three and two nodes, and on a
mixed two-node cluster of hbtwist and a real Heartbeat 3.0.6: CTS's release-1 tests in sequence,
each followed by its resource audit and a scan of every node's log for the lines CTS counts as bad
news; CTS's Stonith test on three hbtwist nodes that fence with the lab's STONITH device; and the
audit itself catches what it must."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict

import pytest

from hbtwist.control.logfiles import file_formatter, record_of
from hbtwist.control.wording import wording
from hbtwist.core import events
from tests.integration.cts import (
    FENCING_SCENARIOS,
    SCENARIOS,
    CtsCluster,
    Scenario,
    mixed_scenarios,
    run_scenario,
)
from tests.integration.ctsheartbeat import HEARTBEAT_TIMERS
from tests.integration.ctspatterns import (
    BAD_REGEXES,
    FENCE_DONE,
    LINK_STATUS,
    THEY_DEAD,
    THEY_STOPPED,
)
from tests.integration.ctsstonith import (
    POWER_SWITCH,
    POWER_SWITCH_NAME,
    PowerSwitch,
    installed_device_type,
)
from tests.integration.lab import Lab
from tests.integration.realheartbeat import require_real_heartbeat

Report = Callable[[str], None]

THREE_NODES = ("n1", "n2", "n3")
MIXED_HEARTBEAT_NODE = "n2"
"""The mixed cluster's Heartbeat node; n1 runs hbtwist."""
SCENARIO_RUN_TIMEOUT_S = 420
"""A whole run of the scenarios: ~1-2.5 min here, several times that on a loaded machine."""


@pytest.fixture(scope="module")
def power_switch_type(_stale_labs_removed: None) -> Iterator[str]:
    """The lab's power switch, installed as a cluster-glue device type for the module."""
    with installed_device_type(POWER_SWITCH_NAME, POWER_SWITCH) as device_type:
        yield device_type


@pytest.fixture
def cts(lab: Lab) -> Iterator[CtsCluster]:
    """Three configured nodes, none running; every daemon stopped afterwards."""
    with CtsCluster(lab, THREE_NODES) as cluster:
        yield cluster


@pytest.mark.timeout(SCENARIO_RUN_TIMEOUT_S)
@pytest.mark.parametrize("nodes", [THREE_NODES, THREE_NODES[:2]], ids=["3 nodes", "2 nodes"])
def test_scenarios_pass_the_resource_audit(
    lab: Lab, power_switch_type: str, nodes: tuple[str, ...], report: Report
) -> None:
    """Each CTS test (Flip, Restart, StartOnebyOne, SimulStart, SimulStop, StopOnebyOne,
    RestartOnebyOne, standby, DetectionTime, Stonith, RedundantpathTest, SpecialTest1,
    Split_brain) sees CTS's log patterns, then every group runs on exactly one running node with
    its resources together and its status checks passing, and no node logged a BadRegexes line
    (Split_brain: but those it expects); a killed daemon is declared dead no earlier than a
    keepalive before the deadtime, and no later than the deadtime plus the load margin."""
    with CtsCluster(lab, nodes, power=PowerSwitch(power_switch_type, lab)) as cluster:
        run_all(cluster, SCENARIOS, report)


def test_stonith_with_fencing_nodes_passes_the_resource_audit(
    lab: Lab, power_switch_type: str, report: Report
) -> None:
    """On three nodes whose ha.cf names the lab's power switch, CTS's Stonith test resets n1:
    both peers log it dead, the taker of its group resets it again before taking the group
    (`Resetting node n1 with`, `node n1 now reset.`), n1 boots and gets its group back, and the
    audit and the BadRegexes scan pass."""
    power = PowerSwitch(power_switch_type, lab)
    with CtsCluster(lab, THREE_NODES, power=power, fencing=True) as cluster:
        run_all(cluster, FENCING_SCENARIOS, report)


@pytest.mark.timeout(SCENARIO_RUN_TIMEOUT_S)
def test_scenarios_pass_the_resource_audit_on_a_mixed_cluster(
    lab: Lab, power_switch_type: str, report: Report
) -> None:
    """On two nodes, n1 running hbtwist and n2 a real Heartbeat 3.0.6 with its own resource
    scripts, each CTS test (with a standby asked of each node; in Split_brain Heartbeat restarts
    itself) sees CTS's log patterns in both daemons' logs, then every group runs on exactly one
    running node with its resources together, its status checks pass, both daemons report the
    same holders, and neither logged a BadRegexes line (but Heartbeat's ERROR about memory
    locking, which every start here logs, and its late heartbeat at a return after a partition)."""
    require_real_heartbeat()
    nodes = THREE_NODES[:2]
    power = PowerSwitch(power_switch_type, lab)
    with CtsCluster(lab, nodes, (MIXED_HEARTBEAT_NODE,), HEARTBEAT_TIMERS, power) as cluster:
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
    if cluster.detection_times:
        shown = ", ".join(f"{seconds * 1000:.0f}" for seconds in cluster.detection_times)
        fastest, slowest = min(cluster.detection_times), max(cluster.detection_times)
        report(
            f"CTS DetectionTime: min {fastest * 1000:.0f} ms, max {slowest * 1000:.0f} ms"
            f" (each: {shown} ms; deadtime {cluster.timers.deadtime_ms} ms)"
        )


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


def test_link_and_fence_lines_match_the_lab_patterns() -> None:
    """A link's death and a fence's success, as the daemon logs them to ha.cf's logfile, match
    the patterns the lab's RedundantpathTest and Stonith test wait for."""
    expected: dict[str, events.Event] = {
        LINK_STATUS % ("n2", "n1", "eth1", "dead"): events.LinkStatusChanged("n1", "eth1", "up", "dead"),
        FENCE_DONE % ("n2", "n1"): events.FenceResult("n1", "external/lab", "OK", 1),
    }
    for pattern, event in expected.items():
        level, text = wording(event, "n2")
        record = {"log_level": level, "log_format": text, **asdict(event)}
        line = file_formatter("n2").format(record_of(record))
        assert re.search(pattern, line), (pattern, line)
