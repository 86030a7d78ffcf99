"""STONITH in the failover lab: the survivor resets a dead holder through cluster-glue's `stonith`
command before it takes the virtual IP over, and never takes it over without a reset.

The failover lab (`tests.integration.failover`): node1 holds `IPaddr2::192.0.2.100/24/eth0`
(served natively), node2 is the survivor, the client probes the address every 5 ms. Each test
adds one STONITH line to both nodes' ha.cf:

* `stonith_host * null node1 node2`: cluster-glue's null device, which resets anything at once;
* an `external/` device written for the lab, installed in cluster-glue's plugin directory for the
  module and removed afterwards, that powers a lab host off: both its cables unplugged at the
  switch and every process of its namespace killed;
* an `external/` device that always fails.

The holder dies in two ways: killed with its cables cut (`kill_master`), or frozen (SIGSTOP of its
daemon) while its address and echo service keep answering the client, the case fencing is for.
Fence timings are printed (`pytest -s`) and repeated in the run's summary.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hbtwist.core.fencing import RETRY_S
from tests.integration.ctsstonith import installed_device_type
from tests.integration.failover import (
    AUTHKEYS,
    FAST,
    HOST_NAMES,
    VIP,
    HbtwistPair,
    Scenario,
    Setup,
    ha_cf,
    haresources,
    make_realtime,
    problems,
    wait_settled,
)
from tests.integration.lab import Host, Lab, LabError, Node
from tests.integration.service import Prober, answered_twice, holds_address, start_echo, turns
from tests.integration.test_failover import GROUP, MOVE_TIMEOUT, logged, move, operations

Report = Callable[[str], None]
PLUGIN_PREFIX = f"hbtlab{os.getpid()}"
"""Names of the lab's device types: unique to this run, so parallel runs do not collide."""

POWER_SWITCH = """\
#!/bin/sh
# hbtwist lab STONITH device: powers a lab host off. Parameters (stonith -p, in order):
# switch = the lab's switch namespace, prefix = the lab's namespace prefix, log = a file that
# gets one line per reset. A reset unplugs both cables of the host at the switch and kills every
# process of its network namespace.
case "$1" in
reset|off)
    echo "$1 $2" >> "$log"
    ip -n "$switch" link set "$2a" down || exit 1
    ip -n "$switch" link set "$2b" down || exit 1
    pids=$(ip netns pids "$prefix$2") || exit 1
    [ -z "$pids" ] || kill -9 $pids
    exit 0 ;;
on) exit 1 ;;
gethosts) exit 0 ;;
status) exit 0 ;;
getconfignames) printf '%s\\n' switch prefix log; exit 0 ;;
getinfo-devid|getinfo-devname) echo "hbtwist lab power switch"; exit 0 ;;
getinfo-devdescr) echo "Unplugs a lab host and kills its processes"; exit 0 ;;
getinfo-devurl) echo "https://example.invalid/"; exit 0 ;;
getinfo-xml) echo "<parameters/>"; exit 0 ;;
*) exit 1 ;;
esac
"""
BROKEN_SWITCH = """\
#!/bin/sh
# hbtwist lab STONITH device that never resets anything. Parameter: log = a file that gets one
# line per reset asked.
case "$1" in
reset|off) echo "$1 $2" >> "$log"; echo "lab power switch unreachable" >&2; exit 1 ;;
gethosts|status) exit 0 ;;
getconfignames) echo log; exit 0 ;;
getinfo-devid|getinfo-devname) echo "hbtwist lab broken switch"; exit 0 ;;
getinfo-devdescr|getinfo-devurl|getinfo-xml) echo "-"; exit 0 ;;
*) exit 1 ;;
esac
"""


@dataclass(frozen=True)
class Devices:
    """The lab's device types, as ha.cf names them."""

    power_switch: str
    broken_switch: str


@pytest.fixture(scope="module")
def devices(_stale_labs_removed: None) -> Iterator[Devices]:
    """The lab's two `external/` device types, installed for the module, removed afterwards."""
    with (
        installed_device_type(f"{PLUGIN_PREFIX}-power", POWER_SWITCH) as power_switch,
        installed_device_type(f"{PLUGIN_PREFIX}-broken", BROKEN_SWITCH) as broken_switch,
    ):
        yield Devices(power_switch, broken_switch)


@dataclass
class FencingLab:
    """The failover lab's hosts, with the echo services kept running between tests."""

    scenario: Scenario
    echo: dict[str, subprocess.Popen[Any]]

    def revive_echo(self) -> None:
        """Start again the echo service of a node whose processes a reset killed."""
        for host in self.scenario.nodes:
            if self.echo[host.name].poll() is not None:
                self.echo[host.name] = start_echo(self.scenario.lab, host)


@pytest.fixture(scope="module")
def fencing_lab(
    _stale_labs_removed: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FencingLab]:
    """node1, node2 and the client, the echo service on both nodes, for the whole module; its
    files are kept in a temporary directory afterwards."""
    shm = Path("/dev/shm")
    on_tmpfs = shm.is_dir() and os.access(shm, os.W_OK)
    workdir = Path(tempfile.mkdtemp(prefix="hbtlab-", dir=shm if on_tmpfs else None))
    try:
        with Lab(workdir) as lab:
            hosts = [lab.add_host(name, index) for index, name in enumerate(HOST_NAMES, 1)]
            scenario = Scenario(lab, *hosts)
            yield FencingLab(scenario, {host.name: start_echo(lab, host) for host in scenario.nodes})
    finally:
        kept = tmp_path_factory.mktemp("stonith") / "lab"
        shutil.copytree(workdir, kept, symlinks=True, dirs_exist_ok=True)
        shutil.rmtree(workdir, ignore_errors=True)


class FencingPair(HbtwistPair):
    """The failover pair with one more ha.cf line on both nodes: the STONITH device."""

    def __init__(self, scenario: Scenario, stonith: str) -> None:
        super().__init__(scenario, FAST, ask=False, setup=Setup(realtime=True))
        self.stonith = stonith

    def launch(self, settle: bool = True) -> dict[str, Node]:
        """Start both daemons (real-time) with the STONITH line and wait until they are settled."""
        lab = self.scenario.lab
        for host in self.scenario.nodes:
            (lab.host_dir(host) / "ha.d" / "hbtwist.cf").unlink(missing_ok=True)
            config = ha_cf(host, self.scenario.peer(host), self.timing) + self.stonith + "\n"
            self.nodes[host.name] = lab.start_hbtwist(host, config, AUTHKEYS, haresources())
            make_realtime(self.nodes[host.name])
        if settle:
            wait_settled(lab, self.nodes, self.timing, ask=False)
        return self.nodes


StartPair = Callable[[str], tuple[FencingPair, Prober]]


@pytest.fixture
def start(fencing_lab: FencingLab) -> Iterator[StartPair]:
    """`start(stonith_line)`: both daemons with that line, settled, node1 serving the client.
    Afterwards a frozen daemon is thawed, everything stopped and put back."""
    started: list[tuple[FencingPair, Prober]] = []
    scenario = fencing_lab.scenario

    def launch(stonith: str) -> tuple[FencingPair, Prober]:
        fencing_lab.revive_echo()
        pair = FencingPair(scenario, stonith)
        prober = Prober(scenario.lab, scenario.client, VIP, name=f"probe-{len(scenario.lab.nodes)}")
        started.append((pair, prober))
        since = time.time()
        pair.launch()
        prober.wait_answering("node1", since, timeout=MOVE_TIMEOUT)
        return pair, prober

    yield launch
    for pair, prober in started:
        prober.stop()
        for node in pair.nodes.values():
            node.kill(signal.SIGCONT)
        pair.reset()
    fencing_lab.revive_echo()


# What the survivor logged


def first_logged(node: Node, text: str, since: float) -> float:
    """When `node` first logged a line containing `text` at or after `since`."""
    times = [moment for moment in logged(node, text) if moment >= since]
    if not times:
        raise LabError(f"{node.name} never logged {text!r}\n{node.tail()}")
    return times[0]


def fence_timeline(survivor: Node, died_at: float, replies: list[Any]) -> dict[str, float]:
    """Seconds from `died_at` to each step of the takeover, as the survivor logged it and the
    client saw it: dead, Resetting, now reset, acquiring, group running, client answered."""
    dead = survivor.wait_event(
        "node_status_changed", MOVE_TIMEOUT, since=died_at, node="node1", new="dead"
    )
    started = operations(survivor, GROUP, operation="start", result="ok")
    answered = [
        reply.received for reply in replies if reply.host == "node2" and reply.received >= died_at
    ]
    moments = {
        "dead": float(dead["time"]),
        "Resetting": first_logged(survivor, "Resetting node node1 with [", died_at),
        "now reset": first_logged(survivor, "node node1 now reset.", died_at),
        "acquiring": first_logged(survivor, "Resources being acquired from node1.", died_at),
        "running": float(started[0]["time"]),
        "client": answered[0],
    }
    return {step: moment - died_at for step, moment in moments.items()}


def shown(timeline: dict[str, float]) -> str:
    """`dead 61 ms, Resetting 63 ms, ...`."""
    return ", ".join(f"{step} {seconds * 1000:.0f} ms" for step, seconds in timeline.items())


def namespace_pids(host: Host) -> list[str]:
    """The processes running in `host`'s network namespace (asked from outside it)."""
    listed = subprocess.run(
        ["ip", "netns", "pids", host.netns], capture_output=True, text=True, check=True
    )
    return listed.stdout.split()


def port_up(lab: Lab, host: Host, lan: str) -> bool:
    """Whether `host`'s cable to LAN `lan` is plugged in (its switch port is up)."""
    shown_link = subprocess.run(
        ["ip", "-n", lab.switch, "-o", "link", "show", f"{host.name}{lan}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    flags = shown_link.split("<", 1)[1].split(">", 1)[0].split(",")
    return "UP" in flags


# (a) The null device


def test_null_device_resets_the_dead_holder_before_the_takeover(
    start: StartPair, report: Report
) -> None:
    """`stonith_host * null ...`: node1 killed, node2 logs `Resetting node node1 with [null]`, runs
    the device, logs `node node1 now reset.` (a `fence_result` event), then takes the address
    over; one host serves at a time and no ERROR or CRIT line is logged."""
    begun = time.time()
    pair, prober = start("stonith_host * null node1 node2")
    killed = pair.kill_master()
    gap = move(pair, prober, killed, "node1", "node2")
    survivor = pair.nodes["node2"]
    timeline = fence_timeline(survivor, killed, prober.replies())
    report(f"null device: {shown(timeline)}; client-observed gap {gap * 1000:.0f} ms")
    assert list(timeline.values()) == sorted(timeline.values())
    fences = survivor.events("fence_result")
    assert [(e["node"], e["device"], e["result"], e["attempt"]) for e in fences] == [
        ("node1", "null", "OK", 1)
    ]
    assert logged(survivor, "Resetting node node1 with [null]")
    assert logged(survivor, "STONITH command for node1: OK")
    assert not logged(survivor, "No STONITH device configured.")
    assert turns(prober.replies()) == ["node1", "node2"]
    assert answered_twice(prober.replies()) == []
    assert problems(pair, begun) == []


# (b) A device that really cuts the node off


def test_power_switch_cuts_a_frozen_holder_off_before_the_takeover(
    start: StartPair, devices: Devices, fencing_lab: FencingLab, report: Report
) -> None:
    """node1's daemon freezes while its address keeps answering: node2 resets it with the lab's
    power switch, which unplugs node1 and kills its processes, and only then takes the address;
    the client never hears both."""
    lab = fencing_lab.scenario.lab
    resets = lab.workdir / "power-switch.log"
    resets.unlink(missing_ok=True)
    begun = time.time()
    pair, prober = start(f"stonith_host * {devices.power_switch} {lab.switch} {lab.prefix} {resets}")
    node1 = pair.nodes["node1"]
    frozen = time.time()
    node1.kill(signal.SIGSTOP)
    gap = move(pair, prober, frozen, "node1", "node2")
    survivor = pair.nodes["node2"]
    timeline = fence_timeline(survivor, frozen, prober.replies())
    report(f"lab power switch: {shown(timeline)}; client-observed gap {gap * 1000:.0f} ms")
    assert list(timeline.values()) == sorted(timeline.values())
    assert node1.wait() == -signal.SIGKILL
    assert resets.read_text().splitlines() == ["reset node1"]
    host1 = fencing_lab.scenario.node1
    assert not port_up(lab, host1, "a") and not port_up(lab, host1, "b")
    assert namespace_pids(host1) == []
    assert [e["result"] for e in survivor.events("fence_result")] == ["OK"]
    assert turns(prober.replies()) == ["node1", "node2"]
    assert answered_twice(prober.replies()) == []
    assert problems(pair, begun) == []


# (c) A device that fails


def test_failing_device_never_lets_the_group_move(
    start: StartPair, devices: Devices, fencing_lab: FencingLab, report: Report
) -> None:
    """node1 freezes and every reset fails: node2 logs and broadcasts each failure, tries again
    every 5 s and never starts the group, so the client only ever hears node1; when node1 thaws,
    node2 stops trying."""
    lab = fencing_lab.scenario.lab
    asked = lab.workdir / "broken-switch.log"
    asked.unlink(missing_ok=True)
    begun = time.time()
    pair, prober = start(f"stonith_host * {devices.broken_switch} {asked}")
    node1, survivor = pair.nodes["node1"], pair.nodes["node2"]
    frozen = time.time()
    node1.kill(signal.SIGSTOP)
    survivor.wait_logged("Resetting node node1 with [", count=3, timeout=4 * RETRY_S)
    failures = [e for e in survivor.events("fence_result") if e["time"] >= frozen]
    resets = [moment for moment in logged(survivor, "Resetting node node1 with [") if moment >= frozen]
    assert [(e["result"], e["attempt"]) for e in failures[:2]] == [("bad", 1), ("bad", 2)]
    waits = [next_try - float(e["time"]) for e, next_try in zip(failures[:2], resets[1:3], strict=True)]
    dead = survivor.wait_event("node_status_changed", since=frozen, node="node1", new="dead")
    answer = float(failures[0]["time"]) - resets[0]
    report(
        f"failing device: dead {(float(dead['time']) - frozen) * 1000:.0f} ms, first Resetting"
        f" {(resets[0] - frozen) * 1000:.0f} ms, device answer {answer * 1000:.0f} ms,"
        f" retries {', '.join(f'{w:.2f} s' for w in waits)} after each failure"
    )
    assert all(RETRY_S - 0.05 <= wait < RETRY_S + 1.0 for wait in waits), waits
    assert len(logged(survivor, "STONITH of node1 failed.  Retrying")) >= 2
    assert logged(survivor, "Host node1 not reset!")
    assert logged(survivor, f"NOT taken over: {GROUP}")
    assert operations(survivor, GROUP, operation="start") == []
    assert not holds_address(fencing_lab.scenario.node2, VIP)
    assert asked.read_text().splitlines()[:2] == ["reset node1"] * 2  # the two answered tries

    thawed = time.time()
    node1.kill(signal.SIGCONT)
    survivor.wait_logged("Node node1 is back: STONITH of node1 stopped", timeout=MOVE_TIMEOUT)
    prober.wait_answering("node1", thawed, timeout=MOVE_TIMEOUT)
    # One retry interval and a margin after node1's last return: no retry came. A thawed daemon
    # may stall once more past the 60 ms deadtime; each such death gets one try of its own.
    last_back = logged(survivor, "Node node1 is back")[-1]
    time.sleep(max(0.0, last_back + RETRY_S + 1.0 - time.time()))
    deaths = survivor.events("node_status_changed", node="node1", new="dead")
    resets_after = [moment for moment in logged(survivor, "Resetting node node1") if moment > thawed]
    deaths_after = [float(event["time"]) for event in deaths if event["time"] > thawed]
    assert len(resets_after) == len(deaths_after), (resets_after, deaths_after)
    pairs = zip(resets_after, deaths_after, strict=True)
    assert all(0 <= reset - death < 0.05 for reset, death in pairs), (resets_after, deaths_after)
    assert turns(prober.replies()) == ["node1"]
    assert answered_twice(prober.replies()) == []
    assert operations(survivor, GROUP, operation="start") == []
    # The failures, node1's return, and what node1 missed of node2 while frozen.
    expected = (
        "Host node1 not reset!",
        "STONITH of node1 failed.",
        "returning after partition",
        "node1: Irretrievably lost packet: node node2",
    )
    assert [line for line in problems(pair, begun) if not any(text in line for text in expected)] == []
