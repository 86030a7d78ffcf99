"""Resource failover between two real hbtwist daemons, as a client of the virtual IP sees it.

The failover lab (`tests.integration.failover`): node1 and node2 at keepalive 10 ms, deadtime
60 ms, warntime 30 ms, `ucast eth0 <peer>` and `bcast eth1`, haresources giving
`IPaddr2::192.0.2.100/24/eth0` to node1, the echo service on both nodes and a client probing the
virtual IP every 5 ms. One lab serves the whole module; each test starts the daemons with its own
configuration (under real-time scheduling, as Heartbeat runs: see `make_realtime`) and stops
them at the end. Measured gaps are printed (`pytest -s`) and repeated in the run's summary.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Iterator
from functools import partial
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from tests.integration.failover import FAST, VIP, HbtwistPair, Scenario, Setup, build, problems
from tests.integration.lab import Lab, LabError, Node
from tests.integration.service import (
    Prober,
    Reply,
    answered_twice,
    handover_gap,
    holds_address,
    turns,
    wait_until,
)
from tests.prereq import require

Report = Callable[[str], None]
StartPair = Callable[..., tuple[HbtwistPair, Prober]]

DEATH_GAP_LIMIT = 1.0
"""The longest client-observed gap accepted when the holder dies or hands the group over, the
address served natively (about 0.1 s on a quiet machine; CI machines are loaded)."""
AGENT_GAP_LIMIT = 2.0
"""The same through the IPaddr2 agent, whose status check and start take about 0.5 s of shell
and `ip` commands on a quiet machine (over 1 s seen on a loaded one)."""
MOVE_TIMEOUT = 10.0
"""How long a move of the group may take before the test gives up waiting."""
AGENT = Path("/etc/ha.d/resource.d/IPaddr2")
GROUP = "IPaddr2::192.0.2.100/24/eth0"

HANG_SCRIPT = """\
#!/bin/sh
# A resource whose start never ends while the file "hang" is in the node's config directory.
running="$HA_DIR/Hang.running"
case "$1" in
start) if [ -e "$HA_DIR/hang" ]; then sleep 3600; fi; touch "$running" ;;
stop) rm -f "$running" ;;
status) if [ -e "$running" ]; then echo running; else echo stopped; fi ;;
esac
"""
FLAKY_SCRIPT = """\
#!/bin/sh
# A resource that runs while the file "Flaky.running" is in the node's config directory.
running="$HA_DIR/Flaky.running"
case "$1" in
start) touch "$running" ;;
stop) rm -f "$running" ;;
status) if [ -e "$running" ]; then echo running; else echo "not running"; fi ;;
esac
"""
SCRIPT_FILES = ("hang", "Hang.running", "Flaky.running")
"""The files the scripts look for and leave in a node's config directory."""


# The client's view of a move


def _answers(*hosts: str, start: float = 10.0) -> list[Reply]:
    """One reply per datagram, 5 ms apart, from `hosts` in turn (1 ms after sending)."""
    return [
        Reply(start + 0.005 * seq + 0.001, seq, start + 0.005 * seq, host)
        for seq, host in enumerate(hosts, 1)
    ]


def test_turns_follow_the_datagrams_not_the_arrivals() -> None:
    """A late answer to an earlier datagram is no flip back; a host answering again later is
    a turn of its own; a datagram answered by two hosts is found."""
    replies = _answers("node1", "node1", "node2", "node2")
    late = [replies[0], replies[2], replies[1], replies[3]]
    assert turns(late) == ["node1", "node2"]
    assert turns(_answers("node1", "node2", "node1")) == ["node1", "node2", "node1"]
    assert answered_twice(replies) == []
    assert answered_twice([*replies, Reply(10.02, 2, 10.01, "node2")]) == [2]


def test_handover_gap_is_the_silence_before_the_taker_answers() -> None:
    """The gap runs from the reply before the taker's first one after the move began to that
    first one; no answer from the taker, or one after a third host's, is no handover."""
    replies = _answers("node1", "node1") + _answers("node2", "node2", start=10.1)
    assert handover_gap(replies, 10.05, "node1", "node2") == pytest.approx(0.095)
    assert handover_gap(replies[:2], 10.05, "node1", "node2") is None
    assert handover_gap(replies, 10.05, "client", "node2") is None


# The lab, shared by the module, and a fresh pair of daemons per test


@pytest.fixture(scope="module")
def scenario(_stale_labs_removed: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    """node1, node2 and the client with the echo service on both nodes, for the whole module;
    its files are kept in a temporary directory afterwards."""
    shm = Path("/dev/shm")
    on_tmpfs = shm.is_dir() and os.access(shm, os.W_OK)
    workdir = Path(tempfile.mkdtemp(prefix="hbtlab-", dir=shm if on_tmpfs else None))
    try:
        with Lab(workdir) as lab:
            yield build(lab)
    finally:
        kept = tmp_path_factory.mktemp("failover") / "lab"
        shutil.copytree(workdir, kept, symlinks=True, dirs_exist_ok=True)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def start_pair(scenario: Scenario) -> Iterator[StartPair]:
    """`start_pair(native_ip=True, setup=Setup(), settle=False, scripts={}, marked=(),
    serving="node1")`: install the resource.d scripts, touch `ha.d/hang` on the `marked` nodes,
    start both daemons (real-time) and the client, and wait until `serving` (unless None)
    answers at the virtual IP. Everything is stopped and put back after the test."""
    started: list[tuple[HbtwistPair, Prober]] = []

    def start(
        native_ip: bool = True,
        setup: Setup | None = None,
        settle: bool = False,
        scripts: dict[str, str] | None = None,
        marked: tuple[str, ...] = (),
        serving: str | None = "node1",
    ) -> tuple[HbtwistPair, Prober]:
        setup = dataclasses.replace(setup or Setup(), realtime=True)
        pair = HbtwistPair(scenario, FAST, native_ip, ask=False, setup=setup)
        prober = Prober(scenario.lab, scenario.client, VIP, name=f"probe-{len(scenario.lab.nodes)}")
        started.append((pair, prober))
        for name, text in (scripts or {}).items():
            pair.install_script(name, text)
        for name in marked:
            (scenario.lab.host_dir(scenario.lab.hosts[name]) / "ha.d" / "hang").touch()
        since = time.time()
        pair.launch(settle)
        if serving is not None:
            prober.wait_answering(serving, since, timeout=MOVE_TIMEOUT)
        return pair, prober

    yield start
    for pair, prober in started:
        prober.stop()
        pair.reset()
    for host in scenario.nodes:
        for name in SCRIPT_FILES:
            (scenario.lab.host_dir(host) / "ha.d" / name).unlink(missing_ok=True)


# What the daemons logged and answer



def logged(node: Node, text: str) -> list[float]:
    """When `node` logged a line containing `text`."""
    return [float(r["time"]) for r in node.records() if text in str(r.get("text", ""))]


def operations(node: Node, resource: str, **fields: Any) -> list[dict[str, Any]]:
    """The operations on `resource` that `node` logged, matching `fields`."""
    return node.events("resource_operation", resource=resource, **fields)


def logged_state(node: Node) -> tuple[str | None, str | None, str | None]:
    """What `node` last logged: what it holds (`rscstatus`'s word), and the group's holder and
    its state there."""
    holding = node.events("holding_changed")
    group = node.events("group_state_changed", group=GROUP)
    return (
        holding[-1]["new"] if holding else None,
        group[-1]["holder"] if group else None,
        group[-1]["new"] if group else None,
    )


def expected_state(name: str, holder: str | None, state: str = "stopped") -> tuple[str, Any, str]:
    """`logged_state` of node `name` when `holder` holds the group (`state`: the group's state
    on a node that does not hold it)."""
    if name != holder:
        return ("none", holder, state)
    return ("local" if holder == "node1" else "foreign", holder, "running")


def explained(pair: HbtwistPair, wait: Callable[[], None]) -> None:
    """Run `wait`; a LabError it raises gets the end of both daemons' logs."""
    try:
        wait()
    except LabError as error:
        tails = "\n".join(node.tail() for node in pair.nodes.values())
        raise LabError(f"{error}\n{tails}") from error


def wait_holder(
    pair: HbtwistPair, holder: str | None, *, ask: bool = False, state: str = "stopped"
) -> None:
    """Wait until the running daemons have logged that `holder` (None: nobody) holds the group
    (`state` elsewhere); with `ask`, `hbctl rscstatus` and `hbctl resources --json` must then
    say so on each, stable."""
    running = {name: node for name, node in pair.nodes.items() if node.running}
    expected = {name: expected_state(name, holder, state) for name in running}

    def logged_all() -> bool:
        return all(logged_state(node) == expected[name] for name, node in running.items())

    explained(pair, lambda: wait_until(logged_all, MOVE_TIMEOUT, f"the daemons logging {expected}"))
    if not ask:
        return
    wanted = {name: (word, word, True, who, st) for name, (word, who, st) in expected.items()}
    seen = {}
    # The log can run a moment ahead of the end of a standby conversation: ask again then.
    for _ in range(3):
        for name in expected:
            word, status = pair.answers(name)
            group = status["groups"][0]
            seen[name] = (word, status["rsc_hold"], status["stable"], group["holder"], group["state"])
        if seen == wanted:
            return
        time.sleep(0.2)
    assert seen == wanted


def move(pair: HbtwistPair, prober: Prober, since: float, giver: str, taker: str) -> float:
    """Wait until `taker` answers steadily after `since`; the client-observed gap of the move."""
    explained(pair, lambda: prober.wait_answering(taker, since, timeout=MOVE_TIMEOUT))
    gap = handover_gap(prober.replies(), since, giver, taker)
    assert gap is not None, turns(prober.replies())
    return gap


def assert_one_server_at_a_time(prober: Prober, expected_turns: list[str]) -> None:
    """The client heard the hosts in exactly `expected_turns`, and no datagram twice."""
    replies = prober.replies()
    in_order = sorted(replies, key=lambda reply: reply.seq)
    changes = [f"{b.host} from {b.seq}" for a, b in pairwise(in_order) if a.host != b.host]
    assert turns(replies) == expected_turns, changes
    assert answered_twice(replies) == []


# 1. The holder dies; 3. auto_failback on and off


def test_holder_death_native_then_auto_failback_on(start_pair: StartPair, report: Report) -> None:
    """When node1 dies node2 serves the virtual IP through the native path within the bound;
    restarted, node1 gets the group back by auto failback, with one host serving at a time and
    no ERROR or CRIT line."""
    begun = time.time()
    pair, prober = start_pair(settle=True)
    wait_holder(pair, "node1")
    gap = move(pair, prober, pair.kill_master(), "node1", "node2")
    report(f"holder death, native IP: client-observed gap {gap * 1000:.0f} ms")
    assert gap < DEATH_GAP_LIMIT
    survivor = pair.nodes["node2"]
    taken = operations(survivor, GROUP, operation="start", result="ok")
    assert [event["path"] for event in taken] == ["native"]
    assert "(native)" in taken[0]["text"]
    assert logged(survivor, "Resources being acquired from node1.")
    wait_holder(pair, "node2", ask=True)

    back = move(pair, prober, pair.restart("node1").started_at, "node2", "node1")
    report(f"auto failback when node1 returns: client-observed gap {back * 1000:.0f} ms")
    assert logged(survivor, "Auto failback triggered.")
    wait_holder(pair, "node1")
    assert logged(survivor, "Other node completed standby takeover of foreign resources.")
    assert_one_server_at_a_time(prober, ["node1", "node2", "node1"])
    assert problems(pair, begun) == []


def test_holder_death_agent_then_auto_failback_off(start_pair: StartPair, report: Report) -> None:
    """With `native_ip off` node2 takes the virtual IP through the IPaddr2 agent within the
    bound when node1 dies; with auto_failback off it keeps it when node1 returns."""
    require(os.access(AGENT, os.X_OK), f"needs {AGENT} (Debian package heartbeat)")
    begun = time.time()
    pair, prober = start_pair(native_ip=False, setup=Setup(auto_failback="off"), settle=True)
    gap = move(pair, prober, pair.kill_master(), "node1", "node2")
    report(f"holder death, IPaddr2 agent: client-observed gap {gap * 1000:.0f} ms")
    assert gap < AGENT_GAP_LIMIT
    survivor = pair.nodes["node2"]
    taken = operations(survivor, GROUP, operation="start", result="ok")
    assert [event["path"] for event in taken] == [str(AGENT)]
    assert f"({AGENT})" in taken[0]["text"]

    returned = pair.restart("node1")
    explained(pair, lambda: returned.wait_logged("Initial resource acquisition complete"))
    assert logged(returned, "Local Resource acquisition completed. (none)")
    wait_holder(pair, "node2")
    # node2 has seen node1 stable: a failback would have begun. 0.5 s more of node2 answering.
    prober.wait_answering("node2", time.time(), timeout=MOVE_TIMEOUT)
    assert not logged(survivor, "Auto failback triggered.")
    assert_one_server_at_a_time(prober, ["node1", "node2"])
    assert problems(pair, begun) == []


def test_auto_failback_legacy_brings_the_group_back_by_ip_request(start_pair: StartPair) -> None:
    """With auto_failback legacy, node2 takes the group when node1 stops and gives it back when
    node1 returns: it stops the group at node1's ip-request before node1 starts it, with no
    standby conversation."""
    begun = time.time()
    pair, prober = start_pair(setup=Setup(auto_failback="legacy"))
    node2 = pair.nodes["node2"]
    stopped = time.time()
    pair.nodes["node1"].kill(signal.SIGTERM)
    move(pair, prober, stopped, "node1", "node2")
    pair.nodes["node1"].wait()

    node1 = pair.restart("node1")
    move(pair, prober, node1.started_at, "node2", "node1")
    # Legacy nodes send no resource reports: node2 does not learn that node1 took the group.
    holding = {"node1": expected_state("node1", "node1"), "node2": expected_state("node2", None)}
    explained(
        pair,
        lambda: wait_until(
            lambda: {name: logged_state(node) for name, node in pair.nodes.items()} == holding,
            MOVE_TIMEOUT,
            f"the daemons logging {holding}",
        ),
    )
    released = [e["time"] for e in operations(node2, GROUP, operation="stop", result="ok")]
    started = [e["time"] for e in operations(node1, GROUP, operation="start", result="ok")]
    assert len(released) == len(started) == 1
    assert released[0] <= started[0]
    for node in (node1, node2):
        assert not logged(node, "Sending standby") and not logged(node, "wants to go standby")
    assert_one_server_at_a_time(prober, ["node1", "node2", "node1"])
    assert problems(pair, begun) == []


# 2. hb_standby and hb_takeover


def test_standby_and_takeover_move_the_group(start_pair: StartPair, report: Report) -> None:
    """`hbctl standby` on node1 moves the group to node2 and `hbctl takeover` on node1 pulls it
    back, each with a gap within the death bound, Heartbeat's lines on both sides and hbctl's
    answers agreeing."""
    begun = time.time()
    pair, prober = start_pair()
    node1, node2 = pair.nodes["node1"], pair.nodes["node2"]
    wait_holder(pair, "node1")

    asked = time.time()
    assert pair.hbctl("node1", "standby").strip() == "Going standby [all]."
    gap = move(pair, prober, asked, "node1", "node2")
    report(f"hbctl standby: client-observed gap {gap * 1000:.0f} ms")
    assert gap < DEATH_GAP_LIMIT
    wait_holder(pair, "node2", ask=True)
    assert logged(node2, "Standby resource acquisition done [all].")
    assert logged(node1, "Other node completed standby takeover of all resources.")

    asked = time.time()
    assert pair.hbctl("node1", "takeover").strip() == "Taking over [all]."
    back = move(pair, prober, asked, "node2", "node1")
    report(f"hbctl takeover: client-observed gap {back * 1000:.0f} ms")
    assert back < DEATH_GAP_LIMIT
    wait_holder(pair, "node1")
    assert logged(node1, "Standby resource acquisition done [all].")
    assert logged(node2, "Other node completed standby takeover of all resources.")
    assert_one_server_at_a_time(prober, ["node1", "node2", "node1"])
    assert problems(pair, begun) == []


# 4. A start that hangs; 5. a failing monitor


@pytest.mark.parametrize("marked", [("node1",), ("node1", "node2")], ids=["node1", "everywhere"])
def test_hanging_start_is_killed_at_its_timeout(start_pair: StartPair, marked: tuple[str, ...]) -> None:
    """A resource.d start that hangs is killed at `start_timeout` and reported; the group then
    runs on the node where the script works, or stays stopped when it hangs on both."""
    setup = Setup(settings="start_timeout 500ms\n", resources=f"node1 {GROUP} Hang\n")
    pair, prober = start_pair(setup=setup, scripts={"Hang": HANG_SCRIPT}, marked=marked, serving=None)
    node1, node2 = pair.nodes["node1"], pair.nodes["node2"]
    for node in (pair.nodes[name] for name in marked):
        explained(pair, partial(node.wait_logged, "Giving up resources due to failure of Hang"))
        timeouts = operations(node, "Hang", operation="start", result="timeout")
        assert len(timeouts) == 1
        assert 500 <= timeouts[0]["duration_ms"] < 2000
        assert "timed out after" in timeouts[0]["detail"]
    if marked == ("node1",):
        prober.wait_answering("node2", node1.started_at, timeout=MOVE_TIMEOUT)
        wait_holder(pair, "node2")
        assert logged(node2, "Standby resource acquisition done [local].")
        assert operations(node2, "Hang", operation="start", result="ok")
        assert turns(prober.replies())[-1] == "node2"
    else:
        wait_holder(pair, None, ask=True, state="failed")
        assert not any(holds_address(host, VIP) for host in pair.scenario.nodes)
        assert node2.events("group_state_changed", group=GROUP, new="failed")
    # Only one of the hosts ever served, and never both at once.
    assert answered_twice(prober.replies()) == []


def test_failing_monitor_restarts_then_moves_the_group(start_pair: StartPair) -> None:
    """A resource whose status says "not running" is restarted in place once; failing again
    with `restart_limit 1`, its group is stopped and handed to node2, which serves the VIP."""
    setup = Setup(
        settings="monitor_interval 200ms\nrestart_limit 1\n", resources=f"node1 {GROUP} Flaky\n"
    )
    pair, prober = start_pair(setup=setup, scripts={"Flaky": FLAKY_SCRIPT})
    node1, node2 = pair.nodes["node1"], pair.nodes["node2"]
    running = node1.config_dir / "Flaky.running"
    wait_holder(pair, "node1")

    failed = time.time()
    running.unlink()

    def since_failure() -> list[tuple[str, str]]:
        return [(e["operation"], e["result"]) for e in operations(node1, "Flaky") if e["time"] >= failed]

    def restarted() -> None:
        wait_until(lambda: ("start", "ok") in since_failure(), MOVE_TIMEOUT, "Flaky started again")

    explained(pair, restarted)
    done = since_failure()
    first = done.index(("status", "not running"))
    assert done[first + 1 : first + 3] == [("stop", "ok"), ("start", "ok")]
    assert running.exists()
    assert logged_state(node1) == expected_state("node1", "node1")

    failed_again = time.time()
    running.unlink()
    move(pair, prober, failed_again, "node1", "node2")
    wait_holder(pair, "node2")
    assert logged(node1, "Resource group IPaddr2::192.0.2.100/24/eth0 failed here")
    assert logged(node2, "Standby resource acquisition done [local].")
    assert_one_server_at_a_time(prober, ["node1", "node2"])


# 6. Graceful stop


def test_graceful_stop_releases_before_shutdown(start_pair: StartPair) -> None:
    """SIGTERM of the holder: it gives up and relinquishes its resources before `Heartbeat
    shutdown complete`, and node2 serves the virtual IP."""
    begun = time.time()
    pair, prober = start_pair()
    node1 = pair.nodes["node1"]
    stopped = time.time()
    node1.kill(signal.SIGTERM)
    move(pair, prober, stopped, "node1", "node2")
    node1.wait()
    wait_holder(pair, "node2", ask=True)
    giving = logged(node1, "Giving up all HA resources.")
    relinquished = logged(node1, "All HA resources relinquished.")
    complete = logged(node1, "Heartbeat shutdown complete")
    assert len(giving) == len(relinquished) == len(complete) == 1, node1.tail()
    assert giving[0] <= relinquished[0] <= complete[0]
    assert logged(pair.nodes["node2"], "Resources being acquired from node1.")
    assert_one_server_at_a_time(prober, ["node1", "node2"])
    assert problems(pair, begun) == []
