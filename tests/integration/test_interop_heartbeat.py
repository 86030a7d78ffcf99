"""hbtwist and a real Linux-HA Heartbeat 3.0.6 daemon in one cluster, over UDP in the lab.

Two hosts: `hb1` runs the Debian package's daemon (tests/integration/realheartbeat.py), `tw1` runs
hbtwist. Both read the same ha.cf (bar the unicast peer) and the same authkeys: `ucast eth0 <peer>`
on LAN A, `bcast eth1` on LAN B, UDP port 694. What the real daemon sees is read with `cl_status`
and its logfile; what hbtwist sees, from its JSON events.
"""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.integration.lab import Host, Lab, Node, View
from tests.integration.realheartbeat import RealHeartbeat, require_real_heartbeat

HB, TW = "hb1", "tw1"
LINKS = ("eth0", "eth1")
AUTHKEYS = "auth 1\n1 sha1 interop-shared-secret\n"
KEEPALIVE_MS = 200
DEADTIME_MS = 2000
STARTUP_SECONDS = 5.0
"""For this long after its start a node (Heartbeat, and hbtwist likewise) advertises a deadtime
(`dt`) 2 s longer; its peer times its node and links out with the advertised value."""
UP_TIMEOUT = 20.0
DETECTION_LIMIT = 2 * DEADTIME_MS / 1000 + 1.0
"""A dead link or node must be reported within this long of the cut or stop (deadtime, the real
daemon's 250 ms timeout scan, cl_status polling, and a noisy machine)."""
CLEAN_STOP_LIMIT = 8.0
"""A clean shutdown of the real daemon takes ~2 s (longer only while resources are in flux)."""
RESOURCE_START_LIMIT = 5.0
"""From comm-up to the real daemon's `Initial resource acquisition complete` (immediate when every
peer answers its `starting`; 10 s and more otherwise)."""

EXPECTED_NOISE = (
    "Logging daemon is disabled",
    "Core dumps could be lost",
    "Consider setting",
    "No Previous generation",
    "Cannot lock ourselves into memory",  # RLIMIT_MEMLOCK cannot be raised here
    "Dispatch function for",  # its own main loop ran late on a loaded host, not about our packets
)
"""Warnings and errors the real daemon logs in this environment whatever its peer sends."""

JUNK_SENDER = r"""
import random, socket, sys
fixed = [
    b"###\n3:abc,%%%\n",                     # Heartbeat's own parser asserts on this
    b"###\n%%%\n",
    b"###\n99999999:(0)t=status,%%%\n",
    b"###\n13:(0)t=status,\n",               # no trailer
    b">>>\nt=status\nst=active\n<<<\n",      # classic, no auth
    b">>>\nt=status\nsrc=hb1\nauth=1 0123456789abcdef\n<<<\n",
    b">>>\n" + b"x=" * 4000 + b"\n<<<\n",
    b"\x00" * 64,
    b"",
    b"\xff\xfe###\n<<<\n>>>",
]
rng = random.Random(20240611)
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
targets = sys.argv[1:]
for number in range(50):
    if number < len(fixed):
        datagram = fixed[number]
    else:
        datagram = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 1400)))
    sock.sendto(datagram, (targets[number % len(targets)], 694))
print(50)
"""


def ha_cf(peer: Host) -> str:
    """The ha.cf both nodes run, given the other node's host (its unicast peer)."""
    return "\n".join(
        [
            "# hbtwist <-> Heartbeat 3.0.6 interoperability cluster",
            "udpport 694",
            f"keepalive {KEEPALIVE_MS}ms",
            f"deadtime {DEADTIME_MS // 1000}",
            "warntime 1",
            "initdead 10",
            f"ucast eth0 {peer.addr_a}",
            "bcast eth1",
            "auto_failback on",
            f"node {HB} {TW}",
            "crm off",
            "",
        ]
    )


@dataclass
class Pair:
    """The running two-node cluster: the real daemon on hb1, hbtwist on tw1."""

    lab: Lab
    hb_host: Host
    tw_host: Host
    hb: RealHeartbeat
    tw: Node

    @staticmethod
    def hbtwist_sees_all_up(view: View) -> bool:
        """hbtwist reports both nodes active and both links to hb1 up."""
        return (
            view.node(HB) == "active"
            and view.node(TW) == "active"
            and all(view.link(HB, link) == "up" for link in LINKS)
        )

    def real_sees_all_up(self) -> bool:
        """The real daemon reports tw1 active and both links to it up."""
        return self.hb.node_status(TW) == "active" and all(
            self.hb.link_status(TW, link) == "up" for link in LINKS
        )

    def wait_all_up(self, timeout: float = UP_TIMEOUT) -> None:
        """Wait until each side sees the other active over both links."""
        self.tw.wait_for(self.hbtwist_sees_all_up, timeout, "hb1 and tw1 active, links to hb1 up")
        self.hb.wait_until(self.real_sees_all_up, timeout, "tw1 active with eth0 and eth1 up")

    def settle(self) -> None:
        """Wait until both nodes advertise their real deadtime (their start-up periods are over)."""
        tw_started = self.tw.events("node_status_changed", node=TW, new="up")[0]["time"]
        started = max(tw_started, self.hb.started_at or 0.0)
        remaining = started + STARTUP_SECONDS + 3 * KEEPALIVE_MS / 1000 - time.time()
        if remaining > 0:
            time.sleep(remaining)

    def context(self) -> str:
        """Both sides' recent logs, for assertion messages."""
        return f"{self.tw.tail()}\n{self.hb.tail()}"


@pytest.fixture
def pair(lab: Lab) -> Iterator[Pair]:
    """hb1 (real Heartbeat 3.0.6) and tw1 (hbtwist), each seeing the other active on both links."""
    require_real_heartbeat()
    hb_host = lab.add_host(HB, 1)
    tw_host = lab.add_host(TW, 2)
    with RealHeartbeat(lab, hb_host, ha_cf(tw_host), AUTHKEYS) as hb:
        hb.start()
        tw = lab.start_hbtwist(tw_host, ha_cf(hb_host), AUTHKEYS)
        cluster = Pair(lab, hb_host, tw_host, hb, tw)
        cluster.wait_all_up()
        yield cluster
        hb.kill()  # quicker than a clean stop, which has its own test


def _unexpected_complaints(
    hb: RealHeartbeat, since: int = 0, expected: tuple[str, ...] = ()
) -> list[str]:
    """The real daemon's WARN/ERROR/CRIT lines that are neither its usual start-up noise nor
    `expected`."""
    return [
        line
        for line in hb.log_lines(since=since)
        if any(f": {level}: " in line for level in ("WARN", "ERROR", "CRIT"))
        and not any(noise in line for noise in (*EXPECTED_NOISE, *expected))
    ]


def _status_changes(node: Node, of: str, since: float) -> list[tuple[str, str]]:
    """(old, new) of every status change of node `of` that `node` logged at or after `since`."""
    return [
        (event["old"], event["new"])
        for event in node.events("node_status_changed", node=of)
        if event["time"] >= since
    ]


def _hb1_gone(view: View) -> bool:
    """hbtwist reports hb1 dead and both links to it dead."""
    return view.node(HB) == "dead" and all(view.link(HB, link) == "dead" for link in LINKS)


def _figures(report, what: str, figures: dict[str, float]) -> None:
    report(
        what + ": " + ", ".join(f"{label} {seconds * 1000:.0f} ms" for label, seconds in figures.items())
    )


def test_both_sides_report_each_other_active_with_both_links_up(pair: Pair) -> None:
    """The real daemon reports tw1 active over eth0 and eth1, hbtwist reports hb1 active over
    eth0 and eth1, both came up once, and the real daemon complains about nothing tw1 sends."""
    hb, tw = pair.hb, pair.tw
    assert hb.cl_status("nodestatus", TW) == (0, "active\n"), pair.context()
    for link in LINKS:
        assert hb.cl_status("hblinkstatus", TW, link) == (0, "up\n"), pair.context()
    assert hb.node_status(HB) == "active"
    code, nodes = hb.cl_status("listnodes")
    assert code == 0 and sorted(nodes.split()) == [HB, TW], nodes
    assert hb.log_lines("Comm_now_up()"), pair.context()
    assert hb.log_lines(f"Status update for node {TW}: status active"), pair.context()

    view = tw.view()
    assert pair.hbtwist_sees_all_up(view), f"{view}\n{pair.context()}"
    assert len(tw.events("comm_up")) == 1
    assert not tw.events("node_status_changed", new="dead"), pair.context()
    time.sleep(2 * DEADTIME_MS / 1000)  # a while of steady heartbeats: still nothing to complain about
    assert pair.real_sees_all_up() and pair.hbtwist_sees_all_up(tw.view()), pair.context()
    assert not tw.events("late_heartbeat"), pair.context()
    assert _unexpected_complaints(hb) == [], pair.context()


def test_lan_b_cut_kills_only_the_eth1_links(pair: Pair, report) -> None:
    """Unplugging tw1 from LAN B makes both sides report the eth1 link dead (eth0 up, both nodes
    still active); plugging it back in brings eth1 up again on both sides."""
    hb, tw = pair.hb, pair.tw
    pair.settle()
    mark = hb.log_mark()
    cut = pair.lab.cut(pair.tw_host, "b")
    event = tw.wait_event(
        "link_status_changed", timeout=10.0, since=cut, node=HB, link="eth1", new="dead"
    )
    seen_by_real = hb.wait_link_status(TW, "eth1", "dead", timeout=10.0)
    detected = {
        "hbtwist sees hb1:eth1 dead": event["time"] - cut,
        "Heartbeat sees tw1:eth1 dead": seen_by_real - cut,
    }
    _figures(report, f"LAN B cut (limit {DETECTION_LIMIT * 1000:.0f} ms)", detected)
    for label, seconds in detected.items():
        assert 0 < seconds <= DETECTION_LIMIT, f"{label} after {seconds:.3f} s\n{pair.context()}"
    assert hb.log_lines(f"Link {TW}:eth1 dead.", since=mark), pair.context()

    time.sleep(DEADTIME_MS / 1000)  # stay cut a while: nothing else may change
    assert hb.node_status(TW) == "active", pair.context()
    assert hb.link_status(TW, "eth0") == "up", pair.context()
    assert hb.link_status(TW, "eth1") == "dead", pair.context()
    view = tw.view()
    assert view.node(HB) == "active" and view.node(TW) == "active", f"{view}\n{pair.context()}"
    assert view.link(HB, "eth0") == "up" and view.link(HB, "eth1") == "dead", f"{view}\n{pair.context()}"
    assert _status_changes(tw, HB, cut) == [], pair.context()
    assert not hb.log_lines(f"node {TW}: is dead", since=mark), pair.context()

    heal = pair.lab.heal(pair.tw_host, "b")
    event = tw.wait_event(
        "link_status_changed", timeout=10.0, since=heal, node=HB, link="eth1", new="up"
    )
    seen_by_real = hb.wait_link_status(TW, "eth1", "up", timeout=10.0)
    _figures(
        report,
        "LAN B heal",
        {
            "hbtwist sees hb1:eth1 up": event["time"] - heal,
            "Heartbeat sees tw1:eth1 up": seen_by_real - heal,
        },
    )
    pair.wait_all_up(timeout=10.0)
    assert _unexpected_complaints(hb) == [], pair.context()


def test_killed_real_heartbeat_is_declared_dead_by_hbtwist(pair: Pair, report) -> None:
    """SIGKILL of the real daemon (a crash, it sends nothing more) makes hbtwist report hb1 and
    both its links dead within the deadtime hb1 advertised, and hbtwist keeps running."""
    hb, tw = pair.hb, pair.tw
    pair.settle()
    killed = time.time()
    assert hb.kill() == 128 + signal.SIGKILL, pair.context()
    assert hb.processes() == [], "processes of the real daemon outlived it"
    view = tw.wait_for(_hb1_gone, DETECTION_LIMIT, "hb1 and its links dead")
    dead_at = tw.events("node_status_changed", node=HB, new="dead")[0]["time"]
    _figures(
        report,
        f"real Heartbeat killed (deadtime {DEADTIME_MS} ms)",
        {"hbtwist reports hb1 dead": dead_at - killed},
    )
    assert dead_at - killed >= (DEADTIME_MS - KEEPALIVE_MS) / 1000 - 0.1, "dead before its deadtime"
    assert not tw.events("shutdown_notice"), pair.context()
    assert view.node(TW) == "active"
    time.sleep(1.0)
    assert tw.running and _hb1_gone(tw.view()), pair.context()


def _wait_until_resources_settle(pair: Pair) -> None:
    """Wait until the real daemon finished its own resource start-up (its shutdown waits for
    local resource activity, which has nothing to do with hbtwist)."""
    hb = pair.hb
    hb.wait_for_log("Initial resource acquisition complete", timeout=RESOURCE_START_LIMIT)
    deadline = time.monotonic() + RESOURCE_START_LIMIT
    while hb.cl_status("rscstatus")[1].strip() == "transition":
        assert time.monotonic() < deadline, pair.context()
        time.sleep(0.2)
    time.sleep(1.0)


def test_clean_shutdown_of_real_heartbeat_is_seen_by_hbtwist(pair: Pair, report) -> None:
    """SIGTERM to the real daemon makes it give up its resources, send `shutdone` and exit 0
    within seconds; hbtwist reports one shutdown notice and one change of hb1 from active to
    dead (never back, though hb1 sends status messages for ~2 s more), and its links dead."""
    hb, tw = pair.hb, pair.tw
    _wait_until_resources_settle(pair)
    stopped = time.time()
    assert hb.stop(timeout=CLEAN_STOP_LIMIT) == 0, pair.context()
    exited = time.time()
    assert hb.log_lines(f"{HB} Heartbeat shutdown complete."), pair.context()
    assert hb.processes() == [], "processes of the real daemon outlived it"
    assert hb.log_lines("Heartbeat shutdown in progress."), pair.context()
    assert not hb.log_lines("Shutdown delayed"), pair.context()
    tw.wait_event("shutdown_notice", timeout=2.0, since=stopped, node=HB)
    tw.wait_for(_hb1_gone, DETECTION_LIMIT + exited - stopped, "hb1 and its links dead")
    dead_at = tw.events("node_status_changed", node=HB, new="dead")[-1]["time"]
    _figures(
        report,
        "real Heartbeat stopped",
        {"its shutdown took": exited - stopped, "hbtwist reports hb1 dead": dead_at - stopped},
    )
    # Long after hb1's last packet its status is still dead, and hbtwist still runs.
    time.sleep(max(0.0, exited + DEADTIME_MS / 1000 + 1.0 - time.time()))
    view = tw.view()
    assert tw.running, pair.context()
    assert _hb1_gone(view) and view.node(TW) == "active", f"{view}\n{pair.context()}"
    assert len(tw.events("shutdown_notice", node=HB)) == 1, pair.context()
    assert _status_changes(tw, HB, stopped) == [("active", "dead")], pair.context()


def test_hbtwist_sigterm_is_seen_by_real_heartbeat(pair: Pair, report) -> None:
    """SIGTERM to hbtwist makes it exit 0 after sending `shutdone`: the real daemon logs the
    shutdown notice from tw1 and then declares tw1 and both its links dead."""
    hb, tw = pair.hb, pair.tw
    pair.settle()
    mark = hb.log_mark()
    stopped = time.time()
    tw.kill(signal.SIGTERM)
    # twistd stops its reactor on SIGTERM, then exits by that same signal.
    assert tw.wait(timeout=10.0) in (0, -signal.SIGTERM), pair.context()
    hb.wait_for_log(f"Received shutdown notice from '{TW}'.", timeout=5.0, since=mark)
    dead = hb.wait_node_status(TW, "dead", timeout=DETECTION_LIMIT + 2.0)
    _figures(report, "hbtwist stopped", {"Heartbeat reports tw1 dead": dead - stopped})
    assert hb.log_lines(f"node {TW}: is dead", since=mark), pair.context()
    for link in LINKS:
        assert hb.link_status(TW, link) == "dead", pair.context()
    assert hb.node_status(HB) == "active", pair.context()
    assert _unexpected_complaints(hb, mark, expected=(f"node {TW}: is dead",)) == [], pair.context()


def test_malformed_datagrams_leave_hbtwist_running(pair: Pair) -> None:
    """50 malformed datagrams sent from hb1's host to hbtwist's UDP port (both LANs) are dropped:
    hbtwist keeps running and keeps reporting hb1 active over both links."""
    tw = pair.tw
    sent_at = time.time()
    # Unicast to tw1 only: the real daemon would die of such datagrams (LAB.md).
    result = pair.hb_host.run(
        sys.executable, "-c", JUNK_SENDER, pair.tw_host.addr_a, pair.tw_host.addr_b
    )
    assert result.stdout.strip() == "50", result.stderr

    def dropped() -> list[dict]:
        return [
            record
            for record in tw.records()
            if str(record.get("text", "")).startswith("Dropped")
            and record.get("time", 0) >= sent_at
        ]

    deadline = time.monotonic() + 5.0
    while not dropped() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert dropped(), "hbtwist logged no dropped packet: did the datagrams arrive?\n" + pair.context()
    time.sleep(DEADTIME_MS / 1000 + 1.0)  # longer than a deadtime: heartbeats still flow
    assert tw.running, pair.context()
    view = tw.view()
    assert pair.hbtwist_sees_all_up(view), f"{view}\n{pair.context()}"
    assert _status_changes(tw, HB, sent_at) == [], pair.context()
    assert pair.real_sees_all_up(), pair.context()


def test_real_heartbeat_completes_resource_start_up_with_hbtwist(pair: Pair) -> None:
    """With auto_failback on, the `starting` the real daemon sends at comm-up is answered by
    tw1's `resource` report: the real daemon completes its initial resource acquisition at once
    and holds its own (empty) local set."""
    hb = pair.hb
    hb.wait_for_log("Initial resource acquisition complete", timeout=RESOURCE_START_LIMIT)
    assert hb.log_lines("remote resource transition completed."), pair.context()
    # The real daemon runs its status scripts in children after that line; its rscstatus reads
    # `transition` until they end, then settles on its own (empty) local set.
    deadline = time.monotonic() + RESOURCE_START_LIMIT
    while (answer := hb.cl_status("rscstatus")) != (0, "local\n") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert answer == (0, "local\n"), pair.context()
    assert _unexpected_complaints(hb) == [], pair.context()
