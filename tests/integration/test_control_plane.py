"""The control plane of live daemons in the lab: hbctl (its own and the cl_status-compatible
commands), the event stream, the OpenMetrics endpoint and the SSH manhole.

hbctl reaches a daemon through the UNIX socket the lab gives it (`<host dir>/control.sock`; a
path-named socket is reachable from any network namespace). The metrics and manhole endpoints
listen on 127.0.0.1 *inside* the node's namespace, so their clients run there: small scripts
(`SCRAPE`, `MANHOLE`) started with this interpreter under `ip netns exec`, answering in JSON.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from tests.integration.lab import HBCTL, Host, Lab, LabError, Node, control_address, describe_event
from tests.integration.threenode import AUTHKEYS, DEADTIME_MS, KEEPALIVE_MS, Cluster, ha_cf

Report = Callable[[str], None]

SCHEDULING_MARGIN = 0.3
DETECTION_LIMIT = (DEADTIME_MS + KEEPALIVE_MS) / 1000 + SCHEDULING_MARGIN
"""A dead link must be reported within deadtime + one keepalive of the cut (+ margin)."""
SUBSCRIBED = "subscribed to events"
"""What the daemon logs (debug) once a control client's Subscribe is answered."""
METRICS_PORT = 9694
MANHOLE_PORT = 9695
HEARTBEATS_PER_SECOND = 1000 / KEEPALIVE_MS

SCRAPE = r"""
import json, sys, time, urllib.request
url, count, interval = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
deadline = time.monotonic() + 10
scrapes = []
while len(scrapes) < count:
    if scrapes:
        time.sleep(max(0.0, scrapes[-1]["at"] + interval - time.monotonic()))
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            at = time.monotonic()
            scrapes.append({"at": at, "status": answer.status,
                            "content_type": answer.headers.get("Content-Type", ""),
                            "body": answer.read().decode()})
    except OSError:
        if scrapes or time.monotonic() > deadline:
            raise
        time.sleep(0.1)
print(json.dumps(scrapes))
"""
"""Scrape URL COUNT times, INTERVAL seconds apart (retrying the first connection for up to
10 s while the endpoint opens); prints a JSON list of {at, status, content_type, body}."""

MANHOLE = r"""
import base64, hashlib, json, re, socket, sys, time
import paramiko

port, good_key, wrong_key, *expressions = sys.argv[1:]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
result = {}

def transport():
    deadline = time.monotonic() + 10
    while True:
        try:
            sock = socket.create_connection(("127.0.0.1", int(port)), timeout=5)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    session = paramiko.Transport(sock)
    session.connect()
    blob = session.get_remote_server_key().asbytes()
    result["host_key"] = "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return session

def read_until(channel, marker, deadline):
    seen = b""
    while marker not in seen:
        channel.settimeout(max(0.01, deadline - time.monotonic()))
        data = channel.recv(4096)
        if not data:
            raise EOFError(f"shell closed; read {seen!r}")
        seen += data
    return seen

started = time.monotonic()
session = transport()
try:
    session.auth_publickey("operator", paramiko.Ed25519Key.from_private_key_file(good_key))
    result["login_seconds"] = time.monotonic() - started
    channel = session.open_session()
    channel.get_pty(width=200, height=30)
    channel.invoke_shell()
    read_until(channel, b">>> ", time.monotonic() + 10)
    outputs = []
    for expression in expressions:
        began = time.monotonic()
        channel.send(expression.encode() + b"\r")
        seen = read_until(channel, b"\r\n>>> ", time.monotonic() + 10).decode(errors="replace")
        # The echo (the line redrawn in colour) comes first, then the output lines, then the prompt.
        lines = seen[: seen.rindex("\r\n>>> ")].split("\r\n")[1:]
        output = "\n".join(ANSI.sub("", line) for line in lines)
        outputs.append({"expression": expression, "output": output, "seconds": time.monotonic() - began})
    result["outputs"] = outputs
    channel.close()
finally:
    session.close()

session = transport()
try:
    session.auth_publickey("operator", paramiko.Ed25519Key.from_private_key_file(wrong_key))
    result["wrong_key"] = "accepted"
except paramiko.AuthenticationException as error:
    result["wrong_key"] = f"refused: {error}"
finally:
    session.close()
print(json.dumps(result))
"""
"""Log into the manhole on PORT with GOOD_KEY, evaluate each EXPRESSION at the prompt, then
try WRONG_KEY; prints JSON: host_key, login_seconds, outputs, wrong_key."""


# Helpers


def hbctl(lab: Lab, node: Node, *argv: str) -> subprocess.CompletedProcess[str]:
    """Run `hbctl ARGV --control unix:<node's socket>` to completion (bounded), output captured."""
    command = [*HBCTL, *argv, "--control", control_address(lab, node)]
    try:
        return subprocess.run(
            command, capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL, check=False
        )
    except subprocess.TimeoutExpired as error:
        raise LabError(f"{' '.join(command)}: no answer within 20 s") from error


def in_namespace(host: Host, script: str, *argv: str, timeout: float = 30) -> Any:
    """Run a Python `script` with this interpreter inside `host`'s namespace; its JSON output."""
    result = host.run(sys.executable, "-c", script, *argv, check=False, timeout=timeout)
    if result.returncode != 0:
        raise LabError(f"script in {host.netns} failed ({result.returncode}):\n{result.stderr}")
    return json.loads(result.stdout)


def start_pair(lab: Lab, extra_args: Sequence[str]) -> tuple[Node, Node]:
    """Two nodes n1 (with `extra_args`) and n2, ucast on LAN A and bcast on LAN B, both active."""
    h1, h2 = lab.add_host("n1", 1), lab.add_host("n2", 2)
    n1 = lab.start_hbtwist(h1, ha_cf(h1, [h2]), AUTHKEYS, extra_args=extra_args)
    n2 = lab.start_hbtwist(h2, ha_cf(h2, [h1]), AUTHKEYS)
    for node in (n1, n2):
        node.wait_for(
            lambda view: view.node("n1") == "active" and view.node("n2") == "active",
            15.0,
            "n1 and n2 active",
        )
    return n1, n2


def samples(body: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """The samples of an OpenMetrics text, keyed by (sample name, labels)."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }


def logged(node: Node, text: str) -> list[str]:
    """The node's log lines (rendered) that contain `text`."""
    return [line for line in map(describe_event, node.records()) if text in line]


class EventStream:
    """`hbctl events --json ARGV` on a node, started by the lab; its lines with their arrival."""

    def __init__(self, lab: Lab, node: Node, label: str, *argv: str) -> None:
        self.out, self.err = lab.workdir / f"{label}.jsonl", lab.workdir / f"{label}.err"
        command = [*HBCTL, "events", "--json", *argv, "--control", control_address(lab, node)]
        self.proc = lab.spawn(None, command, stdout=self.out, stderr=self.err)
        self.received: list[tuple[float, dict[str, Any]]] = []
        self._seen = 0

    def describe(self) -> str:
        """Exit status, output and errors, for failure messages."""
        text = self.out.read_text() if self.out.exists() else ""
        errors = self.err.read_text() if self.err.exists() else ""
        return f"hbctl events (exit {self.proc.poll()}): stdout {text!r} stderr {errors!r}"

    def poll(self) -> list[tuple[float, dict[str, Any]]]:
        """Every event printed so far, each with the time this test first saw its line."""
        text = self.out.read_text()
        complete = text[: text.rfind("\n") + 1]
        now = time.time()
        self.received += [(now, json.loads(line)) for line in complete[self._seen :].splitlines()]
        self._seen = len(complete)
        return self.received

    def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float, what: str
    ) -> tuple[float, dict[str, Any]]:
        """The first event matching `predicate`, with its arrival time; LabError after `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            for arrival, event in self.poll():
                if predicate(event):
                    return arrival, event
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise LabError(f"no {what} within {timeout} s: {self.describe()}")
            time.sleep(0.01)

    def finish(self, sig: int | None = None, timeout: float = 5.0) -> int:
        """Send `sig` (if given and still running), wait for the exit (SIGKILL after `timeout`),
        reap; the exit status."""
        if sig is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            status = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=timeout)
            raise LabError(f"hbctl events still running after {timeout} s: {self.describe()}") from None
        self.poll()
        return status


def subscriptions(node: Node) -> int:
    """How many Subscribe calls `node`'s daemon has answered so far."""
    return sum(SUBSCRIBED in str(record.get("text", "")) for record in node.records())


def wait_subscribed(node: Node, count: int, streams: Sequence[EventStream]) -> None:
    """Wait until `node`'s daemon answered `count` Subscribe calls in all (the streams')."""
    deadline = time.monotonic() + 10
    while subscriptions(node) < count:
        exited = [stream.describe() for stream in streams if stream.proc.poll() is not None]
        if exited or time.monotonic() > deadline:
            raise LabError(f"hbctl events did not subscribe at {node.name}: {exited}")
        time.sleep(0.02)


# Tests


def test_hbctl_shows_one_membership_everywhere(cluster: Cluster, report: Report) -> None:
    """Every node's hbctl shows the same active membership; nodestatus, listnodes, hblinkstatus agree."""
    lab, nodes = cluster.lab, cluster.nodes
    names = sorted(nodes)
    # Each node asks about the next one (n1 about n2, n2 about n3, n3 about n1): every node is
    # asked and asks. A few calls at a time: hbctl is CPU-bound start-up, and the daemons must
    # not be starved of CPU at a 500 ms deadtime.
    ring = {observer: names[(i + 1) % len(names)] for i, observer in enumerate(names)}
    commands = {
        observer: [
            ("nodes", "--json"),
            ("status", "--json"),
            ("listnodes",),
            ("nodestatus", peer),
            ("hblinkstatus", peer, "eth1"),
        ]
        for observer, peer in ring.items()
    }
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        calls = {
            (observer, *argv): pool.submit(hbctl, lab, nodes[observer], *argv)
            for observer, argvs in commands.items()
            for argv in argvs
        }
        results = {key: future.result() for key, future in calls.items()}
    elapsed = time.monotonic() - started
    for key, result in results.items():
        assert result.returncode == 0, f"hbctl {' '.join(key[1:])} on {key[0]}: {result}"

    memberships = {}
    for observer, peer in ring.items():
        records = json.loads(results[(observer, "nodes", "--json")].stdout)
        memberships[observer] = {
            record["name"]: (record["status"], record["generation"]) for record in records
        }
        local = json.loads(results[(observer, "status", "--json")].stdout)
        assert (local["node"], local["status"], local["comm_up"]) == (observer, "active", True)
        assert memberships[observer][observer] == ("active", local["generation"]), observer
        assert sorted(results[(observer, "listnodes")].stdout.splitlines()) == names
        assert results[(observer, "nodestatus", peer)].stdout == "active\n"
        assert results[(observer, "hblinkstatus", peer, "eth1")].stdout == "up\n"
    reference = memberships["n1"]
    assert sorted(reference) == names
    assert all(status == "active" and generation > 0 for status, generation in reference.values())
    for observer, membership in memberships.items():
        assert membership == reference, f"{observer} sees {membership}, n1 sees {reference}"
    report(
        f"{len(results)} hbctl calls on 3 nodes in {elapsed:.2f} s; "
        f"generations {', '.join(f'{name}={reference[name][1]}' for name in names)}"
    )


def test_event_stream_reports_lan_b_cut(cluster: Cluster, report: Report) -> None:
    """`hbctl events --json` prints n3:eth1 dead within the detection bound of cutting n3's LAN B."""
    lab, n1, n3 = cluster.lab, cluster.nodes["n1"], cluster.hosts["n3"]
    subscribed = subscriptions(n1)
    follower = EventStream(lab, n1, "n1-events")
    counter = EventStream(lab, n1, "n1-events-count", "--count", "1")
    try:
        wait_subscribed(n1, subscribed + 2, [follower, counter])
        assert follower.poll() == [] and counter.poll() == [], "events printed before anything happened"

        cut = lab.cut(n3, "b")
        printed, event = follower.wait_for(
            lambda e: e["kind"] == "link_status_changed" and e["node"] == "n3" and e["link"] == "eth1",
            timeout=5.0,
            what="n3:eth1 event",
        )
        assert counter.finish(timeout=5.0) == 0, counter.describe()
        time.sleep(0.5)  # anything else the cut causes would show now
        received = follower.poll()
    finally:
        follower.finish(signal.SIGTERM)
        counter.finish(signal.SIGTERM)

    assert event == {**event, "link": "eth1", "old": "up", "new": "dead"}
    assert [e["seq"] for _, e in received] == list(range(1, len(received) + 1))
    assert not [e for _, e in received if e["kind"] == "node_status_changed"], received
    # The same first event; `time` is read per connection as the event is fanned out, so the
    # two copies differ by the fan-out time (fractions of a millisecond).
    assert len(counter.received) == 1, counter.describe()
    counted, first = counter.received[0][1], received[0][1]
    assert {**counted, "time": None} == {**first, "time": None}, counter.describe()
    assert abs(counted["time"] - first["time"]) < 0.05, counter.describe()
    logged_event = n1.wait_event(
        "link_status_changed", timeout=2.0, since=cut, node="n3", link="eth1", new="dead"
    )
    reported, shown = event["time"] - cut, printed - cut
    report(
        f"n1 event stream after LAN B cut (limit {DETECTION_LIMIT * 1000:.0f} ms): daemon reported "
        f"n3:eth1 dead at {reported * 1000:.0f} ms, hbctl printed it by {shown * 1000:.0f} ms "
        f"(logged at {(logged_event['time'] - cut) * 1000:.0f} ms); {len(received)} event(s) in all"
    )
    assert 0 < reported <= DETECTION_LIMIT
    assert 0 < shown <= DETECTION_LIMIT
    assert abs(event["time"] - logged_event["time"]) < 0.1


def test_interrupted_event_stream_exits_zero(lab: Lab) -> None:
    """`hbctl events` interrupted by SIGINT (Ctrl-C) exits 0 without a message, as documented."""
    h1, h2 = lab.add_host("n1", 1), lab.add_host("n2", 2)
    n1 = lab.start_hbtwist(h1, ha_cf(h1, [h2]), AUTHKEYS)
    n1.wait_event("node_status_changed", timeout=15.0, node="n1", new="up")
    subscribed = subscriptions(n1)
    stream = EventStream(lab, n1, "n1-events")
    try:
        wait_subscribed(n1, subscribed + 1, [stream])
    finally:
        status = stream.finish(signal.SIGINT)
    assert (status, stream.err.read_text()) == (0, ""), stream.describe()


def test_metrics_from_a_live_daemon(lab: Lab, report: Report) -> None:
    """Two scrapes of n1's /metrics a second apart: n2 is up and its heartbeat counter grows."""
    n1, _ = start_pair(lab, ["--metrics", f"tcp:{METRICS_PORT}:interface=127.0.0.1"])
    url = f"http://127.0.0.1:{METRICS_PORT}/metrics"
    first, second = in_namespace(n1.host, SCRAPE, url, "2", "1.0")
    for scrape in (first, second):
        assert scrape["status"] == 200
        assert scrape["content_type"].startswith("application/openmetrics-text"), scrape["content_type"]
        assert scrape["body"].endswith("# EOF\n")
    before, after = samples(first["body"]), samples(second["body"])
    interval = second["at"] - first["at"]
    n2 = frozenset({("node", "n2")})
    heartbeats = ("hbtwist_heartbeats_received_total", n2)
    grown = after[heartbeats] - before[heartbeats]
    rate = grown / interval
    report(
        f"n2 heartbeats at n1: {before[heartbeats]:.0f} -> {after[heartbeats]:.0f} in {interval:.3f} s "
        f"({rate:.1f}/s, keepalive {KEEPALIVE_MS} ms)"
    )
    assert after[heartbeats] > before[heartbeats] > 0
    # One per keepalive: copies arriving on both LANs are counted once.
    assert 0.5 * HEARTBEATS_PER_SECOND <= rate <= 1.5 * HEARTBEATS_PER_SECOND
    for values in (before, after):
        assert values[("hbtwist_node_up", n2)] == 1
        assert values[("hbtwist_node_up", frozenset({("node", "n1")}))] == 1
        assert values[("hbtwist_node_status", frozenset({("node", "n2"), ("status", "active")}))] == 1
        assert values[("hbtwist_local_comm_up", frozenset())] == 1
        for link in ("eth0", "eth1"):
            assert values[("hbtwist_link_up", frozenset({("node", "n2"), ("link", link)}))] == 1


def _write_key(path: Path) -> str:
    """A new ed25519 private key at `path` (OpenSSH format, mode 0600); its public key line."""
    key = ed25519.Ed25519PrivateKey.generate()
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
        )
    )
    path.chmod(0o600)
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return public.decode()


def test_manhole_on_a_live_daemon(lab: Lab, report: Report) -> None:
    """An authorized key reads core.local and n2's status in n1's manhole; a stranger's is refused."""
    keys_dir = lab.workdir / "manhole"
    keys_dir.mkdir(mode=0o700)
    operator = _write_key(keys_dir / "operator")
    _write_key(keys_dir / "stranger")
    authorized = keys_dir / "authorized_keys"
    authorized.write_text(f"{operator} operator@lab\n")
    authorized.chmod(0o600)
    n1, _ = start_pair(
        lab,
        ["--manhole", f"tcp:{MANHOLE_PORT}:interface=127.0.0.1", "--manhole-keys", str(authorized)],
    )
    expressions = ["core.local", "snapshot().peer('n2').status"]
    result = in_namespace(
        n1.host,
        MANHOLE,
        str(MANHOLE_PORT),
        str(keys_dir / "operator"),
        str(keys_dir / "stranger"),
        *expressions,
    )
    outputs = {item["expression"]: item["output"] for item in result["outputs"]}
    assert outputs == {"core.local": "'n1'", "snapshot().peer('n2').status": "'active'"}, result
    assert result["wrong_key"].startswith("refused"), result
    # The host key the client saw is the one the daemon announced; both logins were logged.
    announced = logged(n1, "Manhole on ")
    assert len(announced) == 1 and announced[0].endswith(f"host key {result['host_key']}"), announced
    deadline = time.monotonic() + 5
    while not (
        logged(n1, "Manhole login by 'operator'") and logged(n1, "Manhole login refused for 'operator'")
    ):
        assert time.monotonic() < deadline, n1.tail()
        time.sleep(0.05)
    assert oct((n1.state_dir / "manhole_host_key").stat().st_mode & 0o777) == "0o600"
    assert n1.running
    report(
        f"manhole login {result['login_seconds'] * 1000:.0f} ms, evaluations "
        + ", ".join(
            f"{item['expression']} {item['seconds'] * 1000:.0f} ms" for item in result["outputs"]
        )
    )
