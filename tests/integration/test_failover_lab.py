"""The failover measuring lab itself: the prober and its analysis, keepalived's failover, and the
death and reset of an hbtwist holder (the pieces `bench/failover.py` is built from)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable

from tests.integration.failover import (
    FAST,
    VIP,
    HbtwistPair,
    build,
    ha_cf,
    haresources,
    hbtwist_cf,
)
from tests.integration.keepalived import KEEPALIVED, KeepalivedPair
from tests.integration.lab import Host, Lab
from tests.integration.service import (
    PROBE_INTERVAL,
    Prober,
    Reply,
    holds_address,
    interleaved,
    measure,
    parse_reply,
    start_echo,
)
from tests.integration.shell import stop_process
from tests.prereq import require

Report = Callable[[str], None]

SCHEDULING_MARGIN = 0.3
KEEPALIVED_LIMIT = 1.0
"""keepalived (three adverts of 20 ms plus skew) gave 60-80 ms here; 1 s leaves room for load."""


def _replies(host: str, start: float, end: float, first_seq: int = 1) -> list[Reply]:
    """Replies from `host` every 5 ms from `start` to `end` (sent 1 ms before each)."""
    count = round((end - start) / PROBE_INTERVAL)
    return [
        Reply(start + i * PROBE_INTERVAL, first_seq + i, start + i * PROBE_INTERVAL - 0.001, host)
        for i in range(count)
    ]


def _has_carrier(host: Host) -> bool:
    """Whether `host`'s eth0 sees its cable plugged in."""
    return "NO-CARRIER" not in host.run("ip", "-o", "link", "show", "eth0").stdout


# The analysis of what the client recorded


def test_parse_reply_reads_prober_lines_only() -> None:
    """A prober line `received seq sent host` becomes a Reply; anything else is None."""
    assert parse_reply("12.500000 7 12.490000 node2") == Reply(12.5, 7, 12.49, "node2")
    assert parse_reply("started") is None
    assert parse_reply("12.5 seven 12.49 node2") is None


def test_measure_finds_the_takeover_gap() -> None:
    """node1 answering until the kill at 1.0 and node2 from 1.075: the gap is 75 ms (plus the
    last interval before the kill), node1 answered before and node2 alone after."""
    replies = _replies("node1", 0.0, 1.0) + _replies("node2", 1.075, 1.6, first_seq=216)
    failover = measure(replies, killed_at=1.0, victim="node1")
    assert failover.gap is not None
    assert abs(failover.gap - 0.080) < 1e-6
    assert (failover.before, failover.after, failover.hosts_after) == ("node1", "node2", ("node2",))
    assert not failover.duplicate
    assert failover.replies == len(replies)


def test_measure_counts_duplicate_service_from_the_kill_on() -> None:
    """node2 answering for 20 ms before the kill is not the failover's duplicate service;
    node1 answering again after node2 took over is."""
    settling = _replies("node1", 0.0, 0.3) + _replies("node2", 0.3, 0.32, 61)
    steady = settling + _replies("node1", 0.32, 1.0, 65)
    takeover = steady + _replies("node2", 1.07, 1.5, 215)
    assert not measure(takeover, killed_at=1.0, victim="node1").duplicate
    flapping = takeover + _replies("node1", 1.5, 1.6, 301)
    assert measure(flapping, killed_at=1.0, victim="node1").duplicate


def test_measure_without_takeover_has_no_gap() -> None:
    """Replies from the killed host only (some still in flight after the kill) are no takeover."""
    replies = _replies("node1", 0.0, 1.01)
    failover = measure(replies, killed_at=1.0, victim="node1")
    assert failover.gap is None
    assert failover.after is None
    assert failover.before == "node1"


def test_measure_of_one_host_stopping_and_restarting() -> None:
    """With no victim named, the same host answering again after the kill ends the gap."""
    replies = _replies("server", 0.0, 1.0) + _replies("server", 1.3, 1.5, first_seq=300)
    failover = measure(replies, killed_at=1.0, victim=None)
    assert failover.gap is not None
    assert abs(failover.gap - 0.305) < 1e-6
    assert failover.hosts_after == ("server",)


def test_interleaved_answers_are_duplicate_service() -> None:
    """One switch of the answering host is a takeover; a switch back within a second, or two
    hosts answering one datagram, is duplicate service; a switch back later is not."""
    handover = _replies("node1", 0.0, 1.0) + _replies("node2", 1.1, 2.0, first_seq=300)
    assert not interleaved(handover)
    flapping = handover + _replies("node1", 2.0, 2.1, first_seq=600)
    assert interleaved(flapping)
    failback = handover + _replies("node1", 3.5, 3.6, first_seq=900)
    assert not interleaved(failback)
    twice = [Reply(1.0, 5, 0.99, "node1"), Reply(1.001, 5, 0.99, "node2")]
    assert interleaved(twice)


def test_scenario_configuration() -> None:
    """Each node's ha.cf has the timings, ucast to the peer on LAN A, bcast on LAN B and
    auto_failback on; haresources gives the address to node1; `native_ip off` only when asked."""
    node1 = Host(None, "node1", 1, "ns1", "192.0.2.11", "198.51.100.11")
    node2 = Host(None, "node2", 2, "ns2", "192.0.2.12", "198.51.100.12")
    lines = ha_cf(node1, node2, FAST).splitlines()
    for line in ("keepalive 10ms", "deadtime 60ms", "warntime 30ms", "ucast eth0 192.0.2.12"):
        assert line in lines
    assert lines[-4:] == ["ucast eth0 192.0.2.12", "bcast eth1", "auto_failback on", "node node1 node2"]
    assert lines.index("udpport 694") < lines.index("ucast eth0 192.0.2.12")
    assert haresources() == "node1 IPaddr2::192.0.2.100/24/eth0\n"
    assert hbtwist_cf(native_ip=True) is None
    assert hbtwist_cf(native_ip=False) == "native_ip off\n"


# The lab pieces, live


def test_prober_measures_a_stopped_and_restarted_echo_service(lab: Lab, report: Report) -> None:
    """The prober hears an echo service every 5 ms, and stopping it for 0.3 s shows as one gap
    between the stop and the restarted service's first answer, with the datagrams in between
    unanswered."""
    server, client = lab.add_host("server", 1), lab.add_host("client", 3)
    echo = start_echo(lab, server)
    prober = Prober(lab, client, server.addr_a)
    since = time.time()
    prober.wait_answering("server", since, count=250, timeout=10.0)
    recent = [r for r in prober.replies() if r.received >= time.time() - 1.0]
    assert 150 <= len(recent) <= 205, f"{len(recent)} replies in the last second"
    assert all(r.host == "server" and r.received >= r.sent for r in recent)

    stopped_at = time.time()
    stop_process(echo)
    time.sleep(0.3)  # the outage to measure
    restarting_at = time.time()
    start_echo(lab, server)
    listening_seen = time.time()
    prober.wait_answering("server", listening_seen, count=40, timeout=10.0)

    replies = prober.replies()
    failover = measure(replies, stopped_at, victim=None)
    assert failover.gap is not None
    report(
        f"0.3 s outage ({listening_seen - stopped_at:.3f} s until seen listening) measured as "
        f"a {failover.gap * 1000:.0f} ms gap"
    )
    assert restarting_at - stopped_at <= failover.gap <= listening_seen - stopped_at + 0.1
    last_before = max((r for r in replies if r.received < stopped_at), key=lambda r: r.received)
    first_after = min((r for r in replies if r.received > restarting_at), key=lambda r: r.received)
    unanswered = first_after.seq - last_before.seq - 1
    assert 0.5 * failover.gap / PROBE_INTERVAL <= unanswered <= failover.gap / PROBE_INTERVAL + 2
    assert not failover.duplicate


def _wait_takeover(prober: Prober, killed_at: float) -> None:
    """Wait until another host than node1 answered, and 0.5 s more of replies."""
    prober.wait_for(
        lambda replies: any(r.received > killed_at and r.host != "node1" for r in replies),
        10.0,
        "a reply from another node",
    )
    settled = time.time() + 0.5
    prober.wait_for(lambda replies: replies[-1].received >= settled, 5.0, "replies after the takeover")


def test_keepalived_fails_over_in_the_lab(lab: Lab, report: Report) -> None:
    """keepalived (VRRPv3 unicast, advert_int 0.02) serves the address from node1; when node1
    dies, node2 answers after one short gap with no duplicate service, and after a reset node1
    serves it again."""
    require(shutil.which(KEEPALIVED) is not None, "needs keepalived (Debian package keepalived)")
    scenario = build(lab)
    pair = KeepalivedPair(scenario)
    prober = Prober(lab, scenario.client, VIP)
    pair.start(prober, time.time())
    assert holds_address(scenario.node1, VIP) and not holds_address(scenario.node2, VIP)

    killed_at = pair.kill_master()
    assert pair.daemons["node1"].proc.returncode is not None
    _wait_takeover(prober, killed_at)
    failover = measure(prober.replies(), killed_at, "node1")
    assert failover.gap is not None
    report(f"keepalived client-observed gap {failover.gap * 1000:.0f} ms")
    assert failover.gap <= KEEPALIVED_LIMIT
    assert (failover.before, failover.hosts_after) == ("node1", ("node2",))
    assert not failover.duplicate
    assert pair.daemons["node2"].state() == "MASTER" and holds_address(scenario.node2, VIP)

    pair.reset()
    assert not any(holds_address(host, VIP) for host in scenario.nodes)
    again = time.time()
    pair.start(prober, again)
    assert prober.replies()[-1].host == "node1"
    pair.reset()


def test_hbtwist_holder_dies_and_comes_back(lab: Lab, report: Report) -> None:
    """The scenario's two hbtwist nodes settle; killing node1 cuts both its cables and SIGKILLs
    its daemon, and node2 declares it dead within deadtime plus one keepalive; the reset plugs
    the cables back and leaves no daemon running."""
    scenario = build(lab)
    pair = HbtwistPair(scenario, FAST)
    nodes = pair.launch()
    assert (nodes["node1"].config_dir / "haresources").read_text() == haresources()
    assert not (nodes["node1"].config_dir / "hbtwist.cf").exists()

    killed_at = pair.kill_master()
    assert nodes["node1"].proc.returncode == -9
    assert not _has_carrier(scenario.node1)
    detection = pair.detection(killed_at)
    assert detection is not None
    report(f"node2 declared node1 dead {detection * 1000:.0f} ms after its death")
    assert detection <= (FAST.deadtime_ms + FAST.keepalive_ms) / 1000 + SCHEDULING_MARGIN

    pair.reset()
    assert not any(node.running for node in nodes.values())
    assert _has_carrier(scenario.node1)
