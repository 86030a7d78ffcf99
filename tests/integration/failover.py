"""The failover scenario: two hbtwist nodes sharing a virtual IP, and a client watching it.

Hosts `node1` (192.0.2.11, 198.51.100.11), `node2` (.12) and `client` (.13) on the lab's two
LANs. Both nodes run the echo service (`tests.integration.service`); the client probes the
virtual IP 192.0.2.100, which haresources gives to node1 (`IPaddr2::192.0.2.100/24/eth0`).
Each node's ha.cf has a `ucast eth0 <peer>` line (LAN A), `bcast eth1` (LAN B) and
`auto_failback on` (or as `Setup` says); `hbtwist.cf` holds `native_ip off` when the `IPaddr2`
agent is forced, then `Setup`'s settings; `Setup` may give another haresources.

`HbtwistPair` starts both daemons fresh (optionally past their start-up period, optionally
real-time), waits until node1 serves the virtual IP, kills it (both its cables cut and its
daemon killed with SIGKILL), restarts a node as after a reboot, asks hbctl, installs resource.d
scripts, and puts everything back.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.integration.lab import HBCTL, Host, Lab, LabError, Node, control_address
from tests.integration.service import Prober, drop_address, kill_host, start_echo
from tests.integration.shell import COMMAND_TIMEOUT
from tests.integration.threenode import STARTUP_SECONDS, engine_start

VIP = "192.0.2.100"
VIP_PREFIX = 24
AUTHKEYS = "auth 1\n1 sha1 failover-lab-secret\n"
NODE_NAMES = ("node1", "node2")
HOST_NAMES = (*NODE_NAMES, "client")


@dataclass(frozen=True)
class Timing:
    """The heartbeat timings of one setting."""

    keepalive_ms: int
    deadtime_ms: int
    warntime_ms: int
    initdead_s: int = 10

    @property
    def label(self) -> str:
        """How the setting is named in reports."""
        return f"keepalive {self.keepalive_ms}ms / deadtime {self.deadtime_ms}ms"


FAST = Timing(keepalive_ms=10, deadtime_ms=60, warntime_ms=30)
SLOW = Timing(keepalive_ms=100, deadtime_ms=500, warntime_ms=300)


@dataclass
class Scenario:
    """The three hosts, with the echo service running on both nodes."""

    lab: Lab
    node1: Host
    node2: Host
    client: Host

    @property
    def nodes(self) -> tuple[Host, Host]:
        """The two cluster hosts, node1 first."""
        return (self.node1, self.node2)

    def peer(self, host: Host) -> Host:
        """The other cluster host."""
        return self.node2 if host is self.node1 else self.node1


def build(lab: Lab) -> Scenario:
    """Add node1, node2 and the client to `lab` and start the echo service on both nodes."""
    node1, node2, client = (lab.add_host(name, index) for index, name in enumerate(HOST_NAMES, 1))
    scenario = Scenario(lab, node1, node2, client)
    for host in scenario.nodes:
        start_echo(lab, host)
    return scenario


def ha_cf(host: Host, peer: Host, timing: Timing, auto_failback: str = "on") -> str:
    """ha.cf of `host`: ucast to the peer on LAN A, bcast on LAN B, `auto_failback` (on)."""
    lines = [
        f"# failover lab, node {host.name}",
        "udpport 694",
        f"keepalive {timing.keepalive_ms}ms",
        f"deadtime {timing.deadtime_ms}ms",
        f"warntime {timing.warntime_ms}ms",
        f"initdead {timing.initdead_s}",
        f"ucast eth0 {peer.addr_a}",
        "bcast eth1",
        f"auto_failback {auto_failback}",
        "node " + " ".join(NODE_NAMES),
    ]
    return "\n".join(lines) + "\n"


def haresources(holder: str = "node1") -> str:
    """The one resource group: the virtual IP, preferring `holder`."""
    return f"{holder} IPaddr2::{VIP}/{VIP_PREFIX}/eth0\n"


def hbtwist_cf(native_ip: bool, extra: str = "") -> str | None:
    """The hbtwist-only settings: `native_ip off` forces the agent, then the `extra` lines;
    None: no file (defaults)."""
    text = ("" if native_ip else "native_ip off\n") + extra
    return text or None


@dataclass(frozen=True)
class Setup:
    """What the daemons are started with beyond the timings: ha.cf's `auto_failback`, the
    hbtwist.cf lines added after the `native_ip` one, haresources (None: `haresources()`) and
    whether they run with real-time scheduling (`make_realtime`)."""

    auto_failback: str = "on"
    settings: str = ""
    resources: str | None = None
    realtime: bool = False


def make_realtime(node: Node) -> None:
    """Run `node`'s daemon under SCHED_RR (priority 1), its children and threads as usual; where
    the machine refuses it (a container may, even to root) the daemon runs as it is.

    The daemon does the same itself under ha.cf's `realtime on` (the default, as Heartbeat's);
    this sets it from outside as well, so the test holds whatever the daemon's own attempt gave:
    a shared, loaded machine then cannot delay the heartbeats of a 60 ms deadtime past it, while
    the resource scripts run with ordinary priority (SCHED_RESET_ON_FORK).
    """
    policy = os.SCHED_RR | os.SCHED_RESET_ON_FORK
    with contextlib.suppress(PermissionError):
        os.sched_setscheduler(node.pid, policy, os.sched_param(1))


def start_nodes(
    scenario: Scenario, timing: Timing, native_ip: bool = True, setup: Setup | None = None
) -> dict[str, Node]:
    """Write every node's configuration and start both daemons; returns them by name."""
    lab = scenario.lab
    setup = setup or Setup()
    settings = hbtwist_cf(native_ip, setup.settings)
    resources = haresources() if setup.resources is None else setup.resources
    nodes = {}
    for host in scenario.nodes:
        settings_path = lab.host_dir(host) / "ha.d" / "hbtwist.cf"
        settings_path.parent.mkdir(exist_ok=True)
        if settings is None:
            settings_path.unlink(missing_ok=True)
        else:
            settings_path.write_text(settings)
        config = ha_cf(host, scenario.peer(host), timing, setup.auto_failback)
        nodes[host.name] = lab.start_hbtwist(host, config, AUTHKEYS, resources)
        if setup.realtime:
            make_realtime(nodes[host.name])
    return nodes


def hbctl_at_once(lab: Lab, requests: Sequence[tuple[Node, Sequence[str]]]) -> list[str]:
    """Run `hbctl ARGV --control <node's socket>` for every (node, ARGV) at once; their standard
    outputs, in order. A failure or no answer within COMMAND_TIMEOUT is a LabError."""
    asked = [
        subprocess.Popen(
            [*HBCTL, *argv, "--control", control_address(lab, node)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for node, argv in requests
    ]
    outputs = []
    try:
        for (node, argv), proc in zip(requests, asked, strict=True):
            what = f"hbctl {' '.join(argv)} on {node.name}"
            try:
                out, err = proc.communicate(timeout=COMMAND_TIMEOUT)
            except subprocess.TimeoutExpired as error:
                raise LabError(f"{what}: no answer within {COMMAND_TIMEOUT} s") from error
            if proc.returncode != 0:
                raise LabError(f"{what}: exit status {proc.returncode}: {err.strip()}")
            outputs.append(out)
    finally:
        for proc in asked:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    return outputs


def peer_deadtimes(lab: Lab, nodes: dict[str, Node]) -> dict[str, dict[str, int]]:
    """For each node, the deadtime (ms) each peer advertises (`hbctl nodes --json`, asked of
    all nodes at once)."""
    outputs = hbctl_at_once(lab, [(node, ("nodes", "--json")) for node in nodes.values()])
    answers = {}
    for name, out in zip(nodes, outputs, strict=True):
        records = json.loads(out)
        answers[name] = {r["name"]: r["deadtime_ms"] for r in records if r["name"] != name}
    return answers


def wait_settled(
    lab: Lab, nodes: dict[str, Node], timing: Timing, *, ask: bool = True, timeout: float = 20.0
) -> None:
    """Wait until both nodes see each other active and are past the start-up period, in which a
    node advertises and uses deadtime + 2 s: a death measured then would measure that allowance.

    The period ends 5 s after a node set itself `up`; with `ask`, hbctl then confirms that each
    node sees its peer advertise the configured deadtime.
    """
    for node in nodes.values():
        node.wait_for(
            lambda view: all(view.node(name) == "active" for name in NODE_NAMES),
            timeout,
            "both nodes active",
        )
    latest = max(engine_start(node) for node in nodes.values())
    # No node can advertise its real deadtime earlier; its first heartbeat after carries it.
    remaining = latest + STARTUP_SECONDS + 2 * timing.keepalive_ms / 1000 - time.time()
    if remaining > 0:
        time.sleep(remaining)
    deadline = time.monotonic() + timeout
    while ask and any(
        set(seen.values()) != {timing.deadtime_ms} for seen in peer_deadtimes(lab, nodes).values()
    ):
        if time.monotonic() > deadline:
            raise LabError(f"start-up deadtimes still advertised after {timeout} s")
        time.sleep(timing.keepalive_ms / 1000)


class HbtwistPair:
    """hbtwist on node1 and node2 of `scenario` with one timing setting, started fresh by `start`."""

    def __init__(
        self,
        scenario: Scenario,
        timing: Timing,
        native_ip: bool = True,
        *,
        ask: bool = True,
        setup: Setup | None = None,
    ) -> None:
        self.scenario = scenario
        self.timing = timing
        self.native_ip = native_ip
        self.ask = ask
        """Confirm the end of the start-up period with hbctl (see `wait_settled`)."""
        self.setup = setup or Setup()
        self.nodes: dict[str, Node] = {}

    def launch(self, settle: bool = True) -> dict[str, Node]:
        """Start both daemons and wait until they see each other active and, with `settle`,
        until they are past the start-up period (see `wait_settled`); the daemons by name."""
        self.nodes = start_nodes(self.scenario, self.timing, self.native_ip, self.setup)
        if settle:
            wait_settled(self.scenario.lab, self.nodes, self.timing, ask=self.ask)
        else:
            for node in self.nodes.values():
                node.wait_for(
                    lambda view: all(view.node(name) == "active" for name in NODE_NAMES),
                    20.0,
                    "both nodes active",
                )
        return self.nodes

    def start(self, prober: Prober, since: float, timeout: float = 10.0, *, settle: bool = True) -> None:
        """`launch`, then wait until the client hears node1 at the virtual IP (replies received
        after `since`)."""
        self.launch(settle)
        prober.wait_answering("node1", since, timeout=timeout)

    def install_script(self, name: str, text: str) -> None:
        """Put an executable `resource.d/<name>` script with `text` in every node's config
        directory (`reset` removes them)."""
        for host in self.scenario.nodes:
            directory = self.scenario.lab.host_dir(host) / "ha.d" / "resource.d"
            directory.mkdir(parents=True, exist_ok=True)
            script = directory / name
            script.write_text(text)
            script.chmod(0o755)

    def hbctl(self, name: str, *argv: str) -> str:
        """Run `hbctl argv...` against node `name`'s daemon; its standard output."""
        return hbctl_at_once(self.scenario.lab, [(self.nodes[name], argv)])[0]

    def answers(self, name: str) -> tuple[str, dict[str, Any]]:
        """Node `name`'s `hbctl rscstatus` word and `hbctl resources --json` answer (asked at
        once)."""
        node = self.nodes[name]
        questions = [(node, ("rscstatus",)), (node, ("resources", "--json"))]
        word, status = hbctl_at_once(self.scenario.lab, questions)
        return word.strip(), json.loads(status)

    def restart(self, name: str) -> Node:
        """Start node `name`'s daemon again, as after a reboot: a daemon still running is
        stopped; the virtual IP a dead one left is removed and its cables are plugged back in
        first. The new daemon is `nodes[name]`."""
        node = self.nodes[name]
        if node.running:
            node.stop()
        node.wait()
        Path(control_address(self.scenario.lab, node).removeprefix("unix:")).unlink(missing_ok=True)
        self._plug_in(node.host)
        self.nodes[name] = self.scenario.lab.restart(node)
        if self.setup.realtime:
            make_realtime(self.nodes[name])
        return self.nodes[name]

    def kill_master(self) -> float:
        """node1 dies: its cables cut and its daemon SIGKILLed at once; the time of death."""
        node = self.nodes["node1"]

        def sigkill() -> None:
            node.kill(signal.SIGKILL)

        killed_at = kill_host(self.scenario.lab, node.host, sigkill)
        node.wait()
        return killed_at

    def detection(self, killed_at: float, timeout: float = 5.0) -> float | None:
        """Seconds from `killed_at` to node2 declaring node1 dead; None if it did not."""
        try:
            event = self.nodes["node2"].wait_event(
                "node_status_changed", timeout, since=killed_at, node="node1", new="dead"
            )
        except LabError:
            return None
        return float(event["time"]) - killed_at

    def reset(self) -> None:
        """Stop the daemons, remove what a dead node left (its control socket, the virtual IP),
        plug every cable back and remove the installed scripts."""
        for node in self.nodes.values():
            node.stop()
            # A killed daemon leaves its control socket behind (it cannot be copied or reused).
            Path(control_address(self.scenario.lab, node).removeprefix("unix:")).unlink(missing_ok=True)
        self.nodes = {}
        for host in self.scenario.nodes:
            self._plug_in(host)
            shutil.rmtree(self.scenario.lab.host_dir(host) / "ha.d" / "resource.d", ignore_errors=True)

    def _plug_in(self, host: Host) -> None:
        """Plug `host`'s cables back in as after a reboot: without the virtual IP, and without
        the datagrams of a dead daemon still queued for address resolution (they would reach
        the peer as heartbeats of a node returning after a partition)."""
        drop_address(host, VIP, VIP_PREFIX)
        host.run("ip", "neigh", "flush", "all")
        for lan in ("a", "b"):
            self.scenario.lab.heal(host, lan)


def problems(pair: HbtwistPair, since: float) -> list[str]:
    """Every ERROR or CRIT line of the daemons started at or after `since` (killed ones too)."""
    return [
        f"{node.name}: {record['text']}"
        for node in pair.scenario.lab.nodes
        if node.started_at >= since
        for record in node.records()
        if record.get("level") in ("error", "critical")
    ]
