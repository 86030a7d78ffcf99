"""Prometheus metrics: the node's view of nodes, links, packets and resources as OpenMetrics text.

A prometheus_client collector reads one node snapshot and one resource snapshot per scrape, in
the reactor thread (no collector thread, nothing on the heartbeat path). See doc/metrics.md for
every series.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector, CollectorRegistry
from twisted.application import service
from twisted.internet import endpoints
from twisted.internet.interfaces import IReactorTime
from twisted.web import pages, resource, server

from hbtwist import __version__
from hbtwist.control.access import IClusterNode
from hbtwist.control.listener import ListenerService
from hbtwist.core.events import EVENT_NAMES, Event, FenceResult, event_name
from hbtwist.core.snapshot import FailoverSnapshot, NodeSnapshot
from hbtwist.core.stats import NodeStats

CONTENT_TYPE = CONTENT_TYPE_LATEST
KNOWN_STATUSES = ("init", "up", "active", "dead")
"""Node statuses always exported by `hbtwist_node_status` (0 or 1), so none goes missing."""
LINK_UP = "up"
HOLDINGS = ("none", "local", "foreign", "all", "transition")
"""cl_status `rscstatus` answers, always exported by `hbtwist_resource_hold` (0 or 1)."""
GROUP_STATES = ("stopped", "starting", "running", "stopping", "failed", "unconfirmed")
"""This node's side of a group, always exported by `hbtwist_resource_group_state` (0 or 1)."""
FENCE_RESULTS = ("OK", "bad", "badhost")
"""What a reset with the STONITH device answers, always exported by `hbtwist_fence_resets`."""

COUNTERS = {
    "sent": (
        "hbtwist_packets_sent",
        "Packets this node sent (every message, each counted once however many media).",
    ),
    "received": (
        "hbtwist_packets_received",
        "Packets accepted from other nodes (first copies only).",
    ),
    "lost": (
        "hbtwist_packets_lost",
        "Sequence numbers of other nodes found missing on arrival; most are filled moments later "
        "(hbtwist_recovered_total), the rest are hbtwist_lost_unrecovered_total.",
    ),
    "recovered": (
        "hbtwist_recovered",
        "Missing packets of other nodes that arrived later (another medium's copy or a retransmission).",
    ),
    "lost_unrecovered": (
        "hbtwist_lost_unrecovered",
        "Packets of other nodes given up for lost (reported as a gap to listeners).",
    ),
    "flow_control_disabled": (
        "hbtwist_flow_control_disabled",
        "Times flow control was turned off because a peer speaks none.",
    ),
}
"""NodeStats field: (family name, help) of the plain packet counters."""

REXMIT_COUNTERS = {
    "requests_sent": "Retransmission requests this node sent.",
    "requests_received": "Retransmission requests this node received.",
    "requests_held": "Retransmission requests held back because another node asked first.",
    "answered": "Retransmission requests this node answered.",
    "suppressed": "Retransmission requests this node ignored (rate limit).",
    "naks_sent": "Retransmission requests refused because the packet is no longer held.",
}
"""RexmitCounts field: help of `hbtwist_rexmit_<field>_total`."""


class EventTally:
    """A node subscriber counting the events the node reports, by wire name, and the resets
    of dead nodes with the STONITH device, by result."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.fences: Counter[str] = Counter()

    def __call__(self, event: Event) -> None:
        self.counts[event_name(event)] += 1
        if isinstance(event, FenceResult):
            self.fences[event.result] += 1


class NodeCollector(Collector):
    """Every hbtwist family, read from one snapshot of the node at each collection."""

    def __init__(self, node: IClusterNode, clock: IReactorTime, tally: EventTally) -> None:
        self._node = node
        self._clock = clock
        self._tally = tally

    def collect(self) -> Iterator[Metric]:
        """The families for the node as it is now."""
        state = self._node.snapshot()
        now = self._clock.seconds()
        yield from node_families(state, now)
        yield from link_families(state, now)
        yield from local_families(state)
        yield from counter_families(state.stats)
        yield event_family(self._tally)
        yield fence_family(self._tally)
        yield from resource_families(self._node.resources(), state.local)


def node_families(state: NodeSnapshot, now: float) -> list[Metric]:
    """Per node, the local node included: up, status, generation, heartbeats."""
    up = GaugeMetricFamily(
        "hbtwist_node_up",
        "1 if the node is up or active (a ping node: if it answers), else 0.",
        labels=["node"],
    )
    status = GaugeMetricFamily(
        "hbtwist_node_status", "1 for the node's current status, else 0.", labels=["node", "status"]
    )
    generation = GaugeMetricFamily(
        "hbtwist_node_generation", "The node's generation (0: unknown).", labels=["node"]
    )
    since = GaugeMetricFamily(
        "hbtwist_node_seconds_since_heartbeat",
        "Seconds since the node's last status message (absent until one arrives).",
        labels=["node"],
    )
    heartbeats = CounterMetricFamily(
        "hbtwist_heartbeats_received", "Status messages received from the node.", labels=["node"]
    )
    late = CounterMetricFamily(
        "hbtwist_late_heartbeats", "Status messages from the node later than warntime.", labels=["node"]
    )
    pings = GaugeMetricFamily(
        "hbtwist_ping_nodes_reached",
        "How many ping nodes the node reaches (nodes that say so: hbtwist nodes with ping nodes).",
        labels=["node"],
    )
    for peer in state.peers:
        node = _text(peer.name)
        up.add_metric([node], int(peer.reachable))
        if peer.pings_reached is not None:
            pings.add_metric([node], peer.pings_reached)
        for known in dict.fromkeys((*KNOWN_STATUSES, peer.status)):
            status.add_metric([node, _text(known)], int(known == peer.status))
        generation.add_metric([node], peer.generation)
        if peer.last_status_at is not None:
            since.add_metric([node], _elapsed(now, peer.last_status_at))
        heartbeats.add_metric([node], peer.heartbeats)
        late.add_metric([node], peer.late_heartbeats)
    return [up, status, generation, since, heartbeats, late, pings]


def link_families(state: NodeSnapshot, now: float) -> list[Metric]:
    """Per node and medium: up, time since heard, packets, transitions."""
    labels = ["node", "link"]
    up = GaugeMetricFamily(
        "hbtwist_link_up", "1 if the node is heard through the medium, else 0.", labels=labels
    )
    since = GaugeMetricFamily(
        "hbtwist_link_seconds_since_heard",
        "Seconds since a packet of the node arrived through the medium (absent until one does).",
        labels=labels,
    )
    packets = CounterMetricFamily(
        "hbtwist_link_packets_received",
        "Packets of the node accepted through the medium, copies received on other media included.",
        labels=labels,
    )
    transitions = CounterMetricFamily(
        "hbtwist_link_transitions", "Times the link changed between up and dead.", labels=labels
    )
    for peer in state.peers:
        for link in peer.links:
            where = [_text(peer.name), _text(link.name)]
            up.add_metric(where, int(link.status == LINK_UP))
            if link.last_heard is not None:
                since.add_metric(where, _elapsed(now, link.last_heard))
            packets.add_metric(where, link.heard)
            transitions.add_metric(where, link.transitions)
    return [up, since, packets, transitions]


def local_families(state: NodeSnapshot) -> list[Metric]:
    """This node: its identity, generation and whether communication is up."""
    info = InfoMetricFamily(
        "hbtwist_local",
        "This node: its name, uuid and hbtwist version.",
        value={"node": _text(state.local), "uuid": state.uuid.hex(), "version": __version__},
    )
    generation = GaugeMetricFamily(
        "hbtwist_local_generation", "This node's generation number.", value=state.generation
    )
    comm_up = GaugeMetricFamily(
        "hbtwist_local_comm_up",
        "1 once every configured node was heard or declared dead.",
        value=int(state.comm_up),
    )
    return [info, generation, comm_up]


def counter_families(stats: NodeStats) -> list[Metric]:
    """The node's packet, drop and retransmission counters, every one always present."""
    families: list[Metric] = [
        CounterMetricFamily(name, text, value=getattr(stats, field))
        for field, (name, text) in COUNTERS.items()
    ]
    families += [
        CounterMetricFamily(f"hbtwist_rexmit_{field}", text, value=getattr(stats.rexmit, field))
        for field, text in REXMIT_COUNTERS.items()
    ]
    dropped = CounterMetricFamily(
        "hbtwist_packets_dropped", "Packets dropped before use, by reason.", labels=["reason"]
    )
    for reason, count in stats.dropped.items():
        dropped.add_metric([reason], count)
    return [*families, dropped]


def event_family(tally: EventTally) -> Metric:
    """Events the node reported since start-up, by wire name; every known kind is present."""
    family = CounterMetricFamily(
        "hbtwist_events", "Events the node reported, by kind.", labels=["event"]
    )
    for name in sorted({*EVENT_NAMES.values(), *tally.counts}):
        family.add_metric([name], tally.counts[name])
    return family


def fence_family(tally: EventTally) -> Metric:
    """Resets of dead nodes this node tried with its STONITH device, by result; each result is
    present, at 0 until counted."""
    family = CounterMetricFamily(
        "hbtwist_fence_resets",
        "Resets of dead nodes tried with the STONITH device, by result.",
        labels=["result"],
    )
    for result in FENCE_RESULTS:
        family.add_metric([result], tally.fences[result])
    return family


def resource_families(failover: FailoverSnapshot, local: str) -> list[Metric]:
    """The resource manager: what this node holds, each group's holder and state, operations."""
    hold = GaugeMetricFamily(
        "hbtwist_resource_hold",
        "1 for what this node holds (cl_status rscstatus), else 0.",
        labels=["hold"],
    )
    for known in dict.fromkeys((*HOLDINGS, failover.rsc_hold)):
        hold.add_metric([_text(known)], int(known == failover.rsc_hold))
    stable = GaugeMetricFamily(
        "hbtwist_resource_stable",
        "1 when no resource operation is in progress on this node, else 0.",
        value=int(failover.stable),
    )
    held = GaugeMetricFamily(
        "hbtwist_resource_group_held",
        "1 if this node holds the group, else 0.",
        labels=["group"],
    )
    group_state = GaugeMetricFamily(
        "hbtwist_resource_group_state",
        "1 for this node's state of the group, else 0.",
        labels=["group", "state"],
    )
    for group in failover.groups:
        key = _text(group.key)
        held.add_metric([key], int(group.holder == local))
        for known in dict.fromkeys((*GROUP_STATES, group.state)):
            group_state.add_metric([key, _text(known)], int(known == group.state))
    operations = CounterMetricFamily(
        "hbtwist_resource_operations",
        "Resource operations run on this node, by operation and result.",
        labels=["operation", "result"],
    )
    for operation, result, count in failover.operations:
        operations.add_metric([_text(operation), _text(result)], count)
    takeovers = CounterMetricFamily(
        "hbtwist_resource_takeovers",
        "Groups this node took over from another node.",
        value=failover.takeovers,
    )
    releases = CounterMetricFamily(
        "hbtwist_resource_releases",
        "Groups this node gave up (standby, failback, shutdown).",
        value=failover.releases,
    )
    return [hold, stable, held, group_state, operations, takeovers, releases]


def _text(value: str) -> str:
    """`value` as valid UTF-8: a lone surrogate (from undecodable bytes) becomes `\\udcff`."""
    return value.encode("utf-8", "backslashreplace").decode("utf-8")


def _elapsed(now: float, then: float) -> float:
    return round(max(0.0, now - then), 3)


def exposition(registry: CollectorRegistry) -> bytes:
    """The OpenMetrics text of `registry`, ending in `# EOF`."""
    return generate_latest(registry)


class MetricsResource(resource.Resource):
    """`GET /metrics`: the exposition, rendered synchronously in the reactor thread."""

    isLeaf = True

    def __init__(self, registry: CollectorRegistry) -> None:
        super().__init__()
        self._registry = registry

    def render_GET(self, request: server.Request) -> bytes:  # noqa: N802
        request.setHeader(b"Content-Type", CONTENT_TYPE.encode("ascii"))
        request.setHeader(b"Cache-Control", b"no-store")
        return exposition(self._registry)


class _Root(resource.Resource):
    def getChild(self, path: bytes, request: server.Request) -> resource.IResource:  # noqa: N802
        return pages.notFound()


class _Index(resource.Resource):
    isLeaf = True

    def render_GET(self, request: server.Request) -> bytes:  # noqa: N802
        request.setHeader(b"Content-Type", b"text/plain; charset=utf-8")
        return b"hbtwist: metrics are at /metrics\n"


class _QuietSite(server.Site):
    """A site that keeps scrapes and its own start and stop out of the daemon's log."""

    noisy = False

    def log(self, request: Any) -> None:
        """Do not log each request: a scrape every few seconds would drown the daemon's log."""


def node_registry(node: IClusterNode, clock: IReactorTime, tally: EventTally) -> CollectorRegistry:
    """A registry of its own holding only the node's collector."""
    registry = CollectorRegistry()
    registry.register(NodeCollector(node, clock, tally))
    return registry


def metrics_service(node: IClusterNode, endpoint: str, reactor: Any) -> service.IService:
    """A service named "metrics" serving `GET /metrics` for `node` on the server `endpoint`.

    `endpoint` is a server endpoint string, e.g. `tcp:9694:interface=127.0.0.1`; a bad one
    raises ValueError here. Events are counted from the moment this is called. If the port
    cannot be opened, one warning is logged and the node runs on without metrics.
    """
    listen_on = endpoints.serverFromString(reactor, endpoint)
    tally = EventTally()
    node.subscribe(tally)
    root = _Root()
    root.putChild(b"", _Index())
    root.putChild(b"metrics", MetricsResource(node_registry(node, reactor, tally)))
    site = _QuietSite(root, reactor=reactor)
    return ListenerService(
        "metrics", listen_on, site, required=False, what="Metrics", where=endpoint
    )
