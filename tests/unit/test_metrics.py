"""The Prometheus exposition: series from node snapshots, counters, escaping, the HTTP resource."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families
from twisted.internet import error
from twisted.internet.address import IPv4Address
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.logger import LogLevel, capturedLogs, formatEvent

from hbtwist import __version__
from hbtwist.control.metrics import (
    CONTENT_TYPE,
    COUNTERS,
    REXMIT_COUNTERS,
    EventTally,
    exposition,
    metrics_service,
    node_registry,
)
from hbtwist.core.events import EVENT_NAMES, LinkStatusChanged, LocalStall, MessagesLost
from hbtwist.core.snapshot import FailoverSnapshot, NodeSnapshot
from hbtwist.core.stats import DropCounts, NodeStats, RexmitCounts
from tests.doubles.node import UUID, FakeClusterNode, failover, group, link, peer, snapshot

NOW = 1_700_000_100.0
REQUIRED = {
    "hbtwist_node_up",
    "hbtwist_node_status",
    "hbtwist_node_generation",
    "hbtwist_node_seconds_since_heartbeat",
    "hbtwist_heartbeats_received",
    "hbtwist_late_heartbeats",
    "hbtwist_link_up",
    "hbtwist_link_seconds_since_heard",
    "hbtwist_link_packets_received",
    "hbtwist_link_transitions",
    "hbtwist_local",
    "hbtwist_local_generation",
    "hbtwist_local_comm_up",
    "hbtwist_packets_sent",
    "hbtwist_packets_received",
    "hbtwist_packets_dropped",
    "hbtwist_packets_lost",
    "hbtwist_rexmit_requests_sent",
    "hbtwist_rexmit_requests_received",
    "hbtwist_rexmit_answered",
    "hbtwist_rexmit_suppressed",
    "hbtwist_events",
    "hbtwist_resource_hold",
    "hbtwist_resource_stable",
    "hbtwist_resource_group_held",
    "hbtwist_resource_group_state",
    "hbtwist_resource_operations",
    "hbtwist_resource_takeovers",
    "hbtwist_resource_releases",
}
DOCUMENTED_COUNTERS = {
    "hbtwist_packets_sent_total",
    "hbtwist_packets_received_total",
    "hbtwist_packets_lost_total",
    "hbtwist_recovered_total",
    "hbtwist_lost_unrecovered_total",
    "hbtwist_flow_control_disabled_total",
    "hbtwist_rexmit_requests_sent_total",
    "hbtwist_rexmit_requests_received_total",
    "hbtwist_rexmit_requests_held_total",
    "hbtwist_rexmit_answered_total",
    "hbtwist_rexmit_suppressed_total",
    "hbtwist_rexmit_naks_sent_total",
}
RESOURCE_COUNTERS = {"hbtwist_resource_takeovers_total", "hbtwist_resource_releases_total"}
"""Counters read from the resource snapshot rather than NodeStats."""

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def cluster(**changes: object) -> NodeSnapshot:
    """n1's view of an active three-node cluster with media eth0 and eth1, heard just now."""

    def member(name: str) -> object:
        links = [link(name, medium, last_heard=NOW - 0.05, heard=40) for medium in ("eth0", "eth1")]
        heard = None if name == "n1" else NOW - 0.05
        return peer(name, links=links, last_status_at=heard, heartbeats=20)

    state = snapshot([member(name) for name in ("n1", "n2", "n3")])  # type: ignore[misc]
    return replace(state, **changes)  # type: ignore[arg-type]


def scrape(
    state: NodeSnapshot, tally: EventTally | None = None, resources: FailoverSnapshot | None = None
) -> tuple[str, Samples]:
    """The exposition of `state` (and `resources`) at NOW, and its samples parsed back."""
    clock = MemoryReactorClock()
    clock.advance(NOW)
    node = FakeClusterNode(state, resources=resources)
    text = exposition(node_registry(node, clock, tally or EventTally())).decode()
    return text, parse(text)


def parse(text: str) -> Samples:
    """Every sample of an OpenMetrics text, keyed by sample name and label set."""
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = (sample.name, frozenset(sample.labels.items()))
            assert key not in samples, f"duplicate sample {key}"
            samples[key] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """The value of one sample."""
    return samples[(name, frozenset(labels.items()))]


def names_of(text: str) -> set[str]:
    """The metric family names of an OpenMetrics text."""
    return {family.name for family in text_string_to_metric_families(text)}


def test_scrape_of_a_cluster_parses_with_every_series() -> None:
    """A scrape of an active cluster parses as OpenMetrics, ends in # EOF and has every series."""
    text, samples = scrape(cluster())
    assert text.endswith("# EOF\n")
    assert REQUIRED <= names_of(text)
    for node in ("n1", "n2", "n3"):
        assert value(samples, "hbtwist_node_up", node=node) == 1
        assert value(samples, "hbtwist_node_status", node=node, status="active") == 1
        assert value(samples, "hbtwist_node_status", node=node, status="dead") == 0
        assert value(samples, "hbtwist_node_generation", node=node) == 100
    assert value(samples, "hbtwist_local_generation") == 100
    assert value(samples, "hbtwist_local_comm_up") == 1
    assert value(samples, "hbtwist_link_up", node="n2", link="eth1") == 1
    assert value(samples, "hbtwist_heartbeats_received_total", node="n2") == 20
    assert value(samples, "hbtwist_node_seconds_since_heartbeat", node="n3") == 0.05
    assert value(samples, "hbtwist_local_info", node="n1", uuid=UUID.hex(), version=__version__) == 1


def test_counters_follow_the_snapshots_between_scrapes() -> None:
    """Heartbeat, packet and link counters show each scrape's snapshot, so they grow with it."""
    _, before = scrape(cluster(stats=NodeStats(sent=10, received=20)))
    later = cluster(stats=NodeStats(sent=40, received=80))
    grown_peer = replace(later.peers[1], heartbeats=50, links=(link("n2", "eth0", heard=90),))
    _, after = scrape(replace(later, peers=(later.peers[0], grown_peer, later.peers[2])))
    assert value(before, "hbtwist_packets_sent_total") == 10
    assert value(after, "hbtwist_packets_sent_total") == 40
    assert value(after, "hbtwist_packets_received_total") == 80
    assert value(after, "hbtwist_heartbeats_received_total", node="n2") == 50
    assert value(after, "hbtwist_link_packets_received_total", node="n2", link="eth0") == 90


def test_dead_node_and_link_are_reported() -> None:
    """A dead node scrapes as down, status dead, its links down, with the time since it was heard."""
    state = cluster()
    dead = peer(
        "n3",
        "dead",
        links=[link("n3", "eth0", "dead", last_heard=NOW - 3.5, transitions=2)],
        last_status_at=NOW - 3.5,
    )
    _, samples = scrape(replace(state, peers=(*state.peers[:2], dead)))
    assert value(samples, "hbtwist_node_up", node="n3") == 0
    assert value(samples, "hbtwist_node_status", node="n3", status="dead") == 1
    assert value(samples, "hbtwist_node_status", node="n3", status="active") == 0
    assert value(samples, "hbtwist_link_up", node="n3", link="eth0") == 0
    assert value(samples, "hbtwist_link_transitions_total", node="n3", link="eth0") == 2
    assert value(samples, "hbtwist_node_seconds_since_heartbeat", node="n3") == 3.5
    assert value(samples, "hbtwist_link_seconds_since_heard", node="n3", link="eth0") == 3.5


def test_seconds_since_is_absent_until_heard() -> None:
    """Before anything is heard no time-since sample exists; the metadata is still there."""
    state = snapshot([peer("n2", "init", generation=0, links=[link("n2", "eth0", "dead")])])
    text, samples = scrape(replace(state, comm_up=False))
    assert {"hbtwist_node_seconds_since_heartbeat", "hbtwist_link_seconds_since_heard"} <= names_of(text)
    assert not [key for key in samples if key[0].endswith(("_since_heartbeat", "_since_heard"))]
    assert value(samples, "hbtwist_node_status", node="n2", status="init") == 1
    assert value(samples, "hbtwist_node_generation", node="n2") == 0
    assert value(samples, "hbtwist_local_comm_up") == 0


def test_every_counter_has_its_documented_name() -> None:
    """Each NodeStats counter is exposed under the name doc/metrics.md gives, with its value."""
    stats = NodeStats(
        sent=1,
        received=2,
        lost=3,
        recovered=4,
        lost_unrecovered=5,
        flow_control_disabled=6,
        rexmit=RexmitCounts(7, 8, 9, 10, 11, 12),
    )
    _, samples = scrape(cluster(stats=stats))
    exposed = {name for name, labels in samples if not labels and name.endswith("_total")}
    assert exposed - RESOURCE_COUNTERS == DOCUMENTED_COUNTERS
    assert value(samples, "hbtwist_lost_unrecovered_total") == 5
    assert value(samples, "hbtwist_flow_control_disabled_total") == 6
    assert value(samples, "hbtwist_rexmit_requests_held_total") == 9
    assert value(samples, "hbtwist_rexmit_naks_sent_total") == 12
    documented = (Path(__file__).parents[2] / "doc" / "metrics.md").read_text()
    for name in DOCUMENTED_COUNTERS:
        assert f"`{name}`" in documented, name
    assert len(COUNTERS) + len(REXMIT_COUNTERS) == len(DOCUMENTED_COUNTERS)


def test_retransmission_counters_are_zero_until_counted() -> None:
    """Every rexmit series exists at 0 on a fresh node and follows the counts once set."""
    _, samples = scrape(cluster())
    for what in REXMIT_COUNTERS:
        assert value(samples, f"hbtwist_rexmit_{what}_total") == 0
    _, samples = scrape(cluster(stats=NodeStats(rexmit=RexmitCounts(requests_sent=1, answered=3))))
    assert value(samples, "hbtwist_rexmit_answered_total") == 3
    assert value(samples, "hbtwist_rexmit_requests_sent_total") == 1
    assert value(samples, "hbtwist_rexmit_suppressed_total") == 0


def test_dropped_packets_by_reason() -> None:
    """Every drop reason is a series, at 0 until counted; counted reasons show their values."""
    _, samples = scrape(cluster(stats=NodeStats(dropped=DropCounts(bad_auth=2, duplicate=5))))
    assert value(samples, "hbtwist_packets_dropped_total", reason="bad_auth") == 2
    assert value(samples, "hbtwist_packets_dropped_total", reason="duplicate") == 5
    for reason in ("malformed", "replay", "unknown_node", "uuid_mismatch", "foreign_self"):
        assert value(samples, "hbtwist_packets_dropped_total", reason=reason) == 0


def test_label_values_are_escaped() -> None:
    """A status with quote, backslash and newline is escaped and parses back to itself."""
    odd = 'we"ird\\st\natus'
    state = cluster()
    text, samples = scrape(replace(state, peers=(state.peers[0], peer("n2", odd))))
    assert 'status="we\\"ird\\\\st\\natus"' in text
    assert value(samples, "hbtwist_node_status", node="n2", status=odd) == 1
    assert value(samples, "hbtwist_node_up", node="n2") == 0


def test_undecodable_names_still_parse() -> None:
    """A node name holding a lone surrogate is exposed with it spelled out, and the text parses."""
    _, samples = scrape(snapshot([peer("a\udcffb", links=[link("a\udcffb", '"\\\n')])]))
    assert value(samples, "hbtwist_link_up", node="a\\udcffb", link='"\\\n') == 1


def test_events_are_counted_by_wire_name() -> None:
    """The service subscribes a tally; every event kind is a series by wire name, counted ones grow."""
    node = FakeClusterNode(cluster())
    metrics_service(node, "tcp:9694:interface=127.0.0.1", MemoryReactorClock())
    assert len(node.sinks) == 1
    tally = node.sinks[0]
    assert isinstance(tally, EventTally)
    node.emit(LocalStall(1200))
    node.emit(LocalStall(900))
    node.emit(MessagesLost("n2", 4, 6, "gap too large to repair"))
    node.emit(LinkStatusChanged("n2", "eth0", "up", "dead"))
    _, samples = scrape(node.state, tally)
    assert value(samples, "hbtwist_events_total", event="local_stall") == 2
    assert value(samples, "hbtwist_events_total", event="messages_lost") == 1
    assert value(samples, "hbtwist_events_total", event="link_status_changed") == 1
    assert value(samples, "hbtwist_events_total", event="node_status_changed") == 0
    events = {labels for name, labels in samples if name == "hbtwist_events_total"}
    assert {dict(labels)["event"] for labels in events} == set(EVENT_NAMES.values())


GROUP_STATES = ("stopped", "starting", "running", "stopping", "failed", "unconfirmed")


def test_resource_groups_held_and_their_states() -> None:
    """Each group shows whether this node holds it and this node's state of it, all states listed."""
    resources = failover(
        [
            group("192.0.2.10", preferred="n1", holder="n1", state="running"),
            group("192.0.2.20", preferred="n2", holder="n2", state="stopped"),
            group("pgsql", preferred="n1", holder=None, state="unconfirmed"),
        ],
        rsc_hold="local",
    )
    _, samples = scrape(cluster(), resources=resources)
    assert value(samples, "hbtwist_resource_group_held", group="192.0.2.10") == 1
    assert value(samples, "hbtwist_resource_group_held", group="192.0.2.20") == 0
    assert value(samples, "hbtwist_resource_group_held", group="pgsql") == 0
    for key, current in (("192.0.2.10", "running"), ("192.0.2.20", "stopped"), ("pgsql", "unconfirmed")):
        for state in GROUP_STATES:
            expected = int(state == current)
            assert value(samples, "hbtwist_resource_group_state", group=key, state=state) == expected
    assert value(samples, "hbtwist_resource_hold", hold="local") == 1
    for hold in ("none", "foreign", "all", "transition"):
        assert value(samples, "hbtwist_resource_hold", hold=hold) == 0
    assert value(samples, "hbtwist_resource_stable") == 1


def test_resource_counters() -> None:
    """Operations by operation and result, takeovers and releases follow the resource snapshot."""
    resources = failover(
        rsc_hold="transition",
        stable=False,
        takeovers=3,
        releases=2,
        operations=[("start", "ok", 7), ("stop", "ok", 2), ("monitor", "timeout", 1)],
    )
    _, samples = scrape(cluster(), resources=resources)
    operations = {
        (dict(labels)["operation"], dict(labels)["result"]): count
        for (name, labels), count in samples.items()
        if name == "hbtwist_resource_operations_total"
    }
    assert operations == {("start", "ok"): 7, ("stop", "ok"): 2, ("monitor", "timeout"): 1}
    assert value(samples, "hbtwist_resource_takeovers_total") == 3
    assert value(samples, "hbtwist_resource_releases_total") == 2
    assert value(samples, "hbtwist_resource_hold", hold="transition") == 1
    assert value(samples, "hbtwist_resource_stable") == 0


def test_node_without_resource_groups() -> None:
    """Without groups the resource families are there: hold none, counters at 0, no group series."""
    text, samples = scrape(cluster())
    assert {"hbtwist_resource_group_held", "hbtwist_resource_operations"} <= names_of(text)
    assert value(samples, "hbtwist_resource_hold", hold="none") == 1
    assert value(samples, "hbtwist_resource_takeovers_total") == 0
    assert value(samples, "hbtwist_resource_releases_total") == 0
    assert not [key for key in samples if key[0].startswith("hbtwist_resource_group")]
    documented = (Path(__file__).parents[2] / "doc" / "metrics.md").read_text()
    for name in names_of(text):
        assert f"`{name}" in documented, name


def http_get(reactor: MemoryReactorClock, path: bytes) -> bytes:
    """The raw response of the site listening on `reactor` to `GET path`."""
    _, factory, _, _ = reactor.tcpServers[0]
    protocol = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 40000))
    transport = StringTransport()
    protocol.makeConnection(transport)
    protocol.dataReceived(b"GET " + path + b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    return transport.value()


def test_service_serves_metrics_over_http() -> None:
    """The service listens where told and answers GET /metrics with OpenMetrics text, quietly."""
    reactor = MemoryReactorClock()
    reactor.advance(NOW)
    metrics = metrics_service(FakeClusterNode(cluster()), "tcp:9694:interface=127.0.0.1", reactor)
    with capturedLogs() as logged:
        metrics.startService()
        port, factory, _, interface = reactor.tcpServers[0]
        assert (port, interface) == (9694, "127.0.0.1")
        assert factory.noisy is False
        response = http_get(reactor, b"/metrics")
        head, _, body = response.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 ")
        assert f"content-type: {CONTENT_TYPE}".encode() in head.lower()
        assert body.endswith(b"# EOF\n")
        assert value(parse(body.decode()), "hbtwist_node_up", node="n2") == 1
        assert http_get(reactor, b"/nothing").startswith(b"HTTP/1.1 404 ")
        assert b"/metrics" in http_get(reactor, b"/")
        metrics.stopService()
    assert [event["log_level"] for event in logged] == [LogLevel.info]


def test_service_is_named_and_rejects_a_bad_endpoint() -> None:
    """The service is named "metrics"; a malformed endpoint string raises ValueError at once."""
    node = FakeClusterNode(cluster())
    assert metrics_service(node, "tcp:0:interface=127.0.0.1", MemoryReactorClock()).name == "metrics"
    with pytest.raises(ValueError):
        metrics_service(node, "nonsense:9694", MemoryReactorClock())


class BusyReactor(MemoryReactorClock):
    """A reactor on which every TCP port is already in use."""

    def listenTCP(self, port: int, factory: object, backlog: int = 50, interface: str = "") -> object:  # noqa: N802
        raise error.CannotListenError(interface, port, OSError(98, "Address already in use"))


def test_port_in_use_leaves_the_node_running_without_metrics() -> None:
    """A port that cannot be opened logs one warning and start-up goes on, without metrics."""
    metrics = metrics_service(FakeClusterNode(cluster()), "tcp:9694", BusyReactor())
    with capturedLogs() as logged:
        metrics.startService()
    assert metrics.running
    assert len(logged) == 1 and logged[0]["log_level"] is LogLevel.warn
    text = formatEvent(logged[0])
    assert text.startswith("Running without metrics: cannot listen on tcp:9694: ")
    assert "Address already in use" in text
    metrics.stopService()
