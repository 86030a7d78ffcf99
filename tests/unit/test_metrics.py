"""The Prometheus exposition: series from a simulated cluster, counters, escaping, the HTTP resource."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families
from twisted.internet.address import IPv4Address
from twisted.internet.testing import MemoryReactorClock, StringTransport

from hbtwist import __version__
from hbtwist.core import events
from hbtwist.core.engine import Engine
from hbtwist.core.events import LocalStall
from hbtwist.core.stamp import Identity
from hbtwist.control.metrics import (
    CONTENT_TYPE,
    EVENT_NAMES,
    EventTally,
    Family,
    collect,
    exposition,
    metrics_service,
    number,
)
from tests.simnet import SimNet

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
    "hbtwist_local_generation",
    "hbtwist_packets_sent",
    "hbtwist_packets_received",
    "hbtwist_packets_dropped",
    "hbtwist_packets_lost",
    "hbtwist_rexmit_requests_sent",
    "hbtwist_rexmit_requests_received",
    "hbtwist_rexmit_answered",
    "hbtwist_rexmit_suppressed",
}


@dataclass
class FakeNode:
    """The parts of NodeService the metrics read, around a simulated engine."""

    engine: Engine
    identity: Identity
    subscribers: list[Callable[[events.Event], None]] = field(default_factory=list)


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def node_of(net: SimNet, name: str) -> FakeNode:
    """A NodeService-like wrapper of the simulated node `name`."""
    engine = net.nodes[name].engine
    return FakeNode(engine, engine.stamper.identity)


def scrape(net: SimNet, name: str, tally: EventTally | None = None) -> tuple[str, Samples]:
    """The exposition text of node `name` now, and its samples parsed back by prometheus_client."""
    text = exposition(collect(node_of(net, name), net.clock.seconds(), tally))
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


@pytest.fixture
def cluster() -> SimNet:
    """Three simulated nodes, all active after two seconds."""
    net = SimNet(["n1", "n2", "n3"])
    net.start()
    net.run(2.0)
    return net


def test_scrape_of_a_cluster_parses_with_every_series(cluster: SimNet) -> None:
    """A scrape of an active cluster parses as OpenMetrics, ends in # EOF and has every series."""
    text, samples = scrape(cluster, "n1")
    assert text.endswith("# EOF\n")
    assert REQUIRED <= names_of(text)
    for node in ("n1", "n2", "n3"):
        assert value(samples, "hbtwist_node_up", node=node) == 1
        assert value(samples, "hbtwist_node_status", node=node, status="active") == 1
        assert value(samples, "hbtwist_node_status", node=node, status="dead") == 0
        assert value(samples, "hbtwist_node_generation", node=node) == 100
    assert value(samples, "hbtwist_local_generation") == 100
    assert value(samples, "hbtwist_link_up", node="n2", link="eth1") == 1
    assert value(samples, "hbtwist_heartbeats_received_total", node="n2") > 10
    assert 0 <= value(samples, "hbtwist_node_seconds_since_heartbeat", node="n3") <= 0.1
    uuid = b"n1".ljust(16, b"\0").hex()
    assert value(samples, "hbtwist_local_info", node="n1", uuid=uuid, version=__version__) == 1


def test_counters_increase_between_scrapes(cluster: SimNet) -> None:
    """Heartbeat, packet and link counters grow between two scrapes as simulated time passes."""
    _, before = scrape(cluster, "n1")
    cluster.run(3.0)
    _, after = scrape(cluster, "n1")
    grown = [
        ("hbtwist_heartbeats_received_total", {"node": "n2"}),
        ("hbtwist_heartbeats_received_total", {"node": "n3"}),
        ("hbtwist_link_packets_received_total", {"node": "n2", "link": "eth0"}),
        ("hbtwist_packets_sent_total", {}),
        ("hbtwist_packets_received_total", {}),
    ]
    for name, labels in grown:
        assert value(after, name, **labels) > value(before, name, **labels), name
    # 3 s at a 100 ms keepalive: about 30 more heartbeats from each peer
    gained = value(after, "hbtwist_heartbeats_received_total", node="n2") - value(
        before, "hbtwist_heartbeats_received_total", node="n2"
    )
    assert 25 <= gained <= 35


def test_dead_node_and_link_are_reported(cluster: SimNet) -> None:
    """A crashed node scrapes as down, status dead, its links down, and the time since grows."""
    cluster.crash("n3")
    cluster.run(3.5)  # the deadtime advertised during the first five seconds is 2.5 s
    _, samples = scrape(cluster, "n1")
    assert value(samples, "hbtwist_node_up", node="n3") == 0
    assert value(samples, "hbtwist_node_status", node="n3", status="dead") == 1
    assert value(samples, "hbtwist_node_status", node="n3", status="active") == 0
    assert value(samples, "hbtwist_link_up", node="n3", link="eth0") == 0
    assert value(samples, "hbtwist_link_transitions_total", node="n3", link="eth0") == 2
    assert value(samples, "hbtwist_node_seconds_since_heartbeat", node="n3") >= 1.9
    assert value(samples, "hbtwist_link_seconds_since_heard", node="n3", link="eth1") >= 1.9


def test_seconds_since_is_absent_until_heard() -> None:
    """Before anything is heard no time-since sample exists; the metadata is still there."""
    net = SimNet(["n1", "n2"])
    text, samples = scrape(net, "n1")
    assert "hbtwist_node_seconds_since_heartbeat" in names_of(text)
    assert not [key for key in samples if key[0] == "hbtwist_node_seconds_since_heartbeat"]
    assert value(samples, "hbtwist_node_status", node="n2", status="init") == 1
    assert value(samples, "hbtwist_node_generation", node="n2") == 0


def test_retransmission_counters_are_zero_until_counted(cluster: SimNet) -> None:
    """The four rexmit series exist at 0 without engine keys and follow the keys once set."""
    _, samples = scrape(cluster, "n1")
    for what in ("requests_sent", "requests_received", "answered", "suppressed"):
        assert value(samples, f"hbtwist_rexmit_{what}_total") == 0
    counters = cluster.nodes["n1"].engine.counters
    counters["rexmit.answered"] += 3
    counters["rexmit.requests_sent"] += 1
    _, samples = scrape(cluster, "n1")
    assert value(samples, "hbtwist_rexmit_answered_total") == 3
    assert value(samples, "hbtwist_rexmit_requests_sent_total") == 1
    assert value(samples, "hbtwist_rexmit_suppressed_total") == 0


def test_dropped_packets_by_reason(cluster: SimNet) -> None:
    """Every known drop reason is a zero series; counted and new reasons show their values."""
    counters = cluster.nodes["n1"].engine.counters
    counters["dropped.bad_auth"] += 2
    counters["dropped.too_long"] += 5
    _, samples = scrape(cluster, "n1")
    assert value(samples, "hbtwist_packets_dropped_total", reason="bad_auth") == 2
    assert value(samples, "hbtwist_packets_dropped_total", reason="too_long") == 5
    assert value(samples, "hbtwist_packets_dropped_total", reason="uuid_mismatch") == 0
    assert value(samples, "hbtwist_packets_dropped_total", reason="foreign_self") == 0


def test_other_counter_keys_follow_the_naming_scheme(cluster: SimNet) -> None:
    """Unknown keys become hbtwist_<key>_total, sanitised; a clash gets the counter_ prefix."""
    counters = cluster.nodes["n1"].engine.counters
    counters["flow_control_disabled"] += 1
    counters["rexmit.gave_up"] += 4
    counters["odd key-9.x"] += 6
    counters["node_up"] += 7
    _, samples = scrape(cluster, "n1")
    assert value(samples, "hbtwist_flow_control_disabled_total") == 1
    assert value(samples, "hbtwist_rexmit_gave_up_total") == 4
    assert value(samples, "hbtwist_odd_key_9_x_total") == 6
    assert value(samples, "hbtwist_counter_node_up_total") == 7


def test_label_values_are_escaped(cluster: SimNet) -> None:
    """A status with quote, backslash and newline is escaped and parses back to itself."""
    odd = 'we"ird\\st\natus'
    cluster.nodes["n1"].engine.peers["n2"].status = odd
    text, samples = scrape(cluster, "n1")
    assert 'status="we\\"ird\\\\st\\natus"' in text
    assert value(samples, "hbtwist_node_status", node="n2", status=odd) == 1
    assert value(samples, "hbtwist_node_up", node="n2") == 0


def test_help_text_and_odd_characters_are_escaped() -> None:
    """Help text and labels with backslashes, quotes, newlines and lone surrogates still parse."""
    family = Family("hbtwist_x", "gauge", 'a "help"\nwith \\ in it')
    family.add(1.5, node="a\udcffb", link='"\\\n')
    text = exposition([family])
    assert '# HELP hbtwist_x a \\"help\\"\\nwith \\\\ in it\n' in text
    samples = parse(text)
    assert value(samples, "hbtwist_x", node="a\\udcffb", link='"\\\n') == 1.5


def test_numbers_are_spelled_as_openmetrics_wants() -> None:
    """Integers stay integers; NaN and infinities use the OpenMetrics spelling."""
    assert number(3) == "3"
    assert number(True) == "1"
    assert number(0.25) == "0.25"
    assert number(math.nan) == "NaN"
    assert number(math.inf) == "+Inf"
    assert number(-math.inf) == "-Inf"


def test_events_are_counted_by_kind(cluster: SimNet) -> None:
    """The service subscribes a tally to the node; every event kind is a series, counted ones grow."""
    node = node_of(cluster, "n1")
    metrics_service(node, "tcp:9694:interface=127.0.0.1", MemoryReactorClock())
    assert len(node.subscribers) == 1
    tally = node.subscribers[0]
    assert isinstance(tally, EventTally)
    tally(LocalStall(1200))
    tally(LocalStall(900))
    _, samples = scrape(cluster, "n1", tally)
    assert value(samples, "hbtwist_events_total", event="local_stall") == 2
    assert value(samples, "hbtwist_events_total", event="node_status_changed") == 0
    assert {"comm_up", "late_heartbeat", "partition_healed", "shutdown_notice"} <= set(EVENT_NAMES)


def http_get(reactor: MemoryReactorClock, path: bytes) -> bytes:
    """The raw response of the site listening on `reactor` to `GET path`."""
    _, factory, _, _ = reactor.tcpServers[0]
    protocol = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 40000))
    transport = StringTransport()
    protocol.makeConnection(transport)
    protocol.dataReceived(b"GET " + path + b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    return transport.value()


def test_service_serves_metrics_over_http(cluster: SimNet) -> None:
    """The service listens where told and answers GET /metrics with OpenMetrics text."""
    reactor = MemoryReactorClock()
    reactor.advance(cluster.clock.seconds())
    metrics = metrics_service(node_of(cluster, "n1"), "tcp:9694:interface=127.0.0.1", reactor)
    metrics.startService()
    port, _, _, interface = reactor.tcpServers[0]
    assert (port, interface) == (9694, "127.0.0.1")
    response = http_get(reactor, b"/metrics")
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert f"content-type: {CONTENT_TYPE}".encode() in head.lower()
    assert body.endswith(b"# EOF\n")
    assert value(parse(body.decode()), "hbtwist_node_up", node="n2") == 1
    assert http_get(reactor, b"/nothing").startswith(b"HTTP/1.1 404 ")
    metrics.stopService()


def test_service_is_named_and_rejects_a_bad_endpoint(cluster: SimNet) -> None:
    """The service is named "metrics"; a malformed endpoint string raises ValueError at once."""
    node = node_of(cluster, "n1")
    assert metrics_service(node, "tcp:0:interface=127.0.0.1", MemoryReactorClock()).name == "metrics"
    with pytest.raises(ValueError):
        metrics_service(node, "nonsense:9694", MemoryReactorClock())
