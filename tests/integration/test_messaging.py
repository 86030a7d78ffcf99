"""Cluster messaging between real daemons: 10,000 messages from `hbctl send --stdin` on n1,
every node listening with `hbctl listen`, under 30 % packet loss on every host.

Three nodes, two media (ucast on LAN A, bcast on LAN B, no serial line: the loss applies to every
path). hbctl reaches each daemon through the UNIX socket the lab gives it; the metrics endpoint
is a UNIX socket too, so the retransmission counters are read from outside the namespaces.
"""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from tests.integration.lab import HBCTL, Lab, Node, control_address
from tests.integration.threenode import AUTHKEYS, KEEPALIVE_MS, STARTUP_SECONDS, ha_cf

Report = Callable[[str], None]

MESSAGES = 10_000
LOSS_PERCENT = 30
DELIVERY_LIMIT = 180.0
"""Seconds every listener has to receive every message, from the start of `hbctl send`."""
LISTENING = "listens to cluster messages"
"""What the daemon logs (debug) once a control client's Listen is answered."""
NAMES = ("n1", "n2", "n3")
DEADTIME_MS = 2000
WARNTIME_MS = 1000
"""This test is about delivery, not detection: the nodes are given a deadtime that a machine
saturated by the test itself (three daemons, four hbctl processes, 30 % loss, and whatever
else runs beside it) cannot miss; detection at 500 ms is what the cluster tests measure."""


def metrics_path(lab: Lab, name: str) -> Path:
    return lab.workdir / name / "metrics.sock"


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: Path) -> None:
        super().__init__("localhost", timeout=10)
        self._path = str(path)

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(self._path)


def scrape(path: Path) -> dict[str, float]:
    """The unlabelled samples (and `name{reason}` for drops) of a node's metrics endpoint."""
    connection = _UnixHTTPConnection(path)
    try:
        connection.request("GET", "/metrics")
        body = connection.getresponse().read().decode()
    finally:
        connection.close()
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            if not sample.labels:
                values[sample.name] = sample.value
            elif set(sample.labels) == {"reason"}:
                values[f"{sample.name}{{{sample.labels['reason']}}}"] = sample.value
    return values


def read_lines(path: Path) -> list[str]:
    """The complete lines written to `path` so far."""
    try:
        data = path.read_text()
    except FileNotFoundError:
        return []
    return data.split("\n")[:-1]


class LineCounter:
    """Counts the complete lines of a growing file, reading only what was added."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.lines = 0

    def count(self) -> int:
        try:
            with open(self.path, "rb") as output:
                output.seek(self.offset)
                data = output.read()
        except FileNotFoundError:
            return 0
        end = data.rfind(b"\n") + 1
        self.lines += data.count(b"\n", 0, end)
        self.offset += end
        return self.lines


def start_cluster(lab: Lab) -> dict[str, Node]:
    """n1, n2, n3 with ucast (LAN A) and bcast (LAN B), metrics on a UNIX socket; all active
    everywhere and past their start-up period."""
    hosts = {name: lab.add_host(name, index) for index, name in enumerate(NAMES, start=1)}
    nodes = {}
    for name, host in hosts.items():
        peers = [peer for peer in hosts.values() if peer is not host]
        nodes[name] = lab.start_hbtwist(
            host,
            ha_cf(host, peers, deadtime_ms=DEADTIME_MS, warntime_ms=WARNTIME_MS),
            AUTHKEYS,
            extra_args=["--metrics", f"unix:{metrics_path(lab, name)}"],
        )
    for node in nodes.values():
        node.wait_for(
            lambda view: all(view.node(name) == "active" for name in NAMES), 15.0, "all active"
        )
    time.sleep(STARTUP_SECONDS + 3 * KEEPALIVE_MS / 1000)
    return nodes


@pytest.mark.timeout(300)
def test_ten_thousand_messages_under_thirty_percent_loss(lab: Lab, report: Report) -> None:
    """10,000 messages sent from n1 with `hbctl send --stdin` reach the `hbctl listen app`
    of every node (n1's own included) exactly once each, in order, with no gap, although every
    host drops 30 % of the packets it receives."""
    nodes = start_cluster(lab)
    for host in lab.hosts.values():
        lab.set_loss(host, LOSS_PERCENT)

    outputs = {name: lab.workdir / f"listen-{name}.jsonl" for name in NAMES}
    listeners = {}
    for name, node in nodes.items():
        listeners[name] = lab.spawn(
            None,
            [*HBCTL, "listen", "app", "--json", "--control", control_address(lab, node)],
            stdout=outputs[name],
            stderr=lab.workdir / f"listen-{name}.err",
        )
        node.wait_logged(LISTENING)
    for name, listener in listeners.items():
        assert listener.poll() is None, (name, (lab.workdir / f"listen-{name}.err").read_text())

    before_metrics = {name: scrape(metrics_path(lab, name)) for name in NAMES}
    wall_start = time.time()
    source = lab.workdir / "messages.jsonl"
    source.write_text("".join(json.dumps({"t": "app", "n": str(i)}) + "\n" for i in range(MESSAGES)))
    started = time.monotonic()
    with open(source, "rb") as stdin:
        sender = subprocess.run(
            [*HBCTL, "send", "--stdin", "--control", control_address(lab, nodes["n1"])],
            stdin=stdin,
            capture_output=True,
            text=True,
            timeout=DELIVERY_LIMIT,
            check=False,
        )
    queued_after = time.monotonic() - started
    assert sender.returncode == 0, sender
    assert sender.stdout.startswith(f"queued {MESSAGES} messages"), sender.stdout

    done: dict[str, float] = {}
    progress: list[tuple[float, dict[str, int]]] = []
    deadline = started + DELIVERY_LIMIT
    next_sample = started
    counters = {name: LineCounter(path) for name, path in outputs.items()}
    while len(done) < len(NAMES) and time.monotonic() < deadline:
        counts = {name: counter.count() for name, counter in counters.items()}
        now = time.monotonic()
        for name, count in counts.items():
            if count >= MESSAGES and name not in done:
                done[name] = now - started
        if now >= next_sample:
            progress.append((round(now - started, 1), counts))
            next_sample = now + 5.0
        for name, listener in listeners.items():
            assert listener.poll() is None, (name, (lab.workdir / f"listen-{name}.err").read_text())
        time.sleep(0.25)
    elapsed = time.monotonic() - started
    after_metrics = {name: scrape(metrics_path(lab, name)) for name in NAMES}
    losses = {name: lab.loss_counters(host) for name, host in lab.hosts.items()}
    for host in lab.hosts.values():
        lab.set_loss(host, 0)

    report(f"hbctl send --stdin queued {MESSAGES} messages on n1 in {queued_after:.1f} s")
    for name in NAMES:
        if name in done:
            rate = MESSAGES / done[name]
            report(f"{name}: all {MESSAGES} messages delivered after {done[name]:.1f} s ({rate:.0f}/s)")
        else:
            report(f"{name}: only {len(read_lines(outputs[name]))} lines after {elapsed:.1f} s")
    for name, (seen, dropped) in losses.items():
        report(f"{name}: dropped {dropped} of {seen} packets ({100 * dropped / max(seen, 1):.1f} %)")
    for name in NAMES:
        delta = {
            key: int(after_metrics[name].get(key, 0) - before_metrics[name].get(key, 0))
            for key in sorted(after_metrics[name])
            if key.startswith(
                ("hbtwist_rexmit_", "hbtwist_packets_", "hbtwist_lost", "hbtwist_recovered")
            )
            and after_metrics[name].get(key, 0) != before_metrics[name].get(key, 0)
        }
        report(f"{name} counters during the run: {delta}")
    deaths = [
        (name, event["node"])
        for name, node in nodes.items()
        for event in node.events("node_status_changed", new="dead")
        if event["time"] >= wall_start
    ]
    stalls = {
        name: [
            event["stalled_ms"] for event in node.events("local_stall") if event["time"] >= wall_start
        ]
        for name, node in nodes.items()
    }
    report(f"local stalls (ms) during the run: {stalls}; nodes reported dead: {deaths}")
    if len(done) < len(NAMES):
        report(f"progress (seconds, lines per listener): {progress}")

    assert len(done) == len(NAMES), f"not every listener got {MESSAGES} messages: {progress}"
    for name in NAMES:
        records = [json.loads(line) for line in read_lines(outputs[name])]
        gaps = [record for record in records if record["kind"] != "message"]
        assert gaps == [], f"{name} reported gaps: {gaps[:5]}"
        numbers = [int(record["fields"]["n"]) for record in records]
        assert numbers == list(range(MESSAGES)), f"{name}: not exactly 0..{MESSAGES - 1} in order"
        assert {record["sender"] for record in records} == {"n1"}
        if name != "n1":
            seqs = [record["seq"] for record in records]
            assert seqs == sorted(set(seqs)), f"{name}: sequence numbers repeat or go back"
    for node in nodes.values():
        assert node.running, node.tail()
        assert node.events("messages_lost") == [], node.events("messages_lost")[:5]
    assert deaths == [], f"nodes falsely reported dead while messages flowed: {deaths}"
    extra = [name for name in NAMES if len(read_lines(outputs[name])) != MESSAGES]
    assert extra == [], f"listeners with extra lines: {extra}"
