"""Prometheus metrics: the engine's view of nodes, links and packets as OpenMetrics text.

The exposition is built in the reactor thread, on each scrape, straight from the live engine
state (no copies, no collector thread). See doc/metrics.md for every series.
"""

from __future__ import annotations

import math
import re
import typing
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from twisted.application import service, strports
from twisted.internet.interfaces import IReactorTime
from twisted.web import pages, resource, server

from hbtwist import __version__
from hbtwist.core import events
from hbtwist.core.engine import Engine
from hbtwist.core.peers import ACTIVE, DEAD, INIT, LINK_UP, UP
from hbtwist.core.stamp import Identity

CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"
PREFIX = "hbtwist_"

KNOWN_STATUSES = (INIT, UP, ACTIVE, DEAD)
"""Node statuses always exported by `hbtwist_node_status` (0 or 1), so none goes missing."""

PACKET_COUNTERS = {
    "sent": "Packets this node sent (every message, each counted once however many media).",
    "received": "Packets accepted from other nodes (first copies only).",
    "lost": (
        "Sequence numbers of other nodes found missing on arrival; most are filled moments later "
        "by another medium's copy or a retransmission (see hbtwist_lost_unrecovered_total)."
    ),
}
DROP_REASONS = (
    "malformed",
    "bad_auth",
    "duplicate",
    "replay",
    "unknown_node",
    "uuid_mismatch",
    "foreign_self",
)
REXMIT_COUNTERS = {
    "requests_sent": "Retransmission requests this node sent.",
    "requests_received": "Retransmission requests this node received.",
    "answered": "Retransmission requests this node answered.",
    "suppressed": "Retransmission requests this node ignored (rate limit or packet gone).",
}


class MetricsSource(Protocol):
    """What the metrics read from a node: `NodeService` provides it, and so can a test fake."""

    engine: Engine
    identity: Identity
    subscribers: list[Callable[[events.Event], None]]


@dataclass
class Family:
    """One metric family: its samples share a name, a type and a help text."""

    name: str
    kind: str
    help: str
    samples: list[tuple[dict[str, str], float]] = field(default_factory=list)

    def add(self, value: float, **labels: str) -> None:
        """Append one sample."""
        self.samples.append((labels, value))

    @property
    def sample_name(self) -> str:
        """The name on sample lines: counters end in `_total`, info metrics in `_info`."""
        return self.name + {"counter": "_total", "info": "_info"}.get(self.kind, "")


def event_name(kind: type) -> str:
    """The `event` label of an event class: `NodeStatusChanged` becomes `node_status_changed`."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", kind.__name__).lower()


EVENT_NAMES = tuple(event_name(kind) for kind in typing.get_args(events.Event))


class EventTally:
    """A node subscriber counting the events the engine reports, by kind."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def __call__(self, event: events.Event) -> None:
        self.counts[event_name(type(event))] += 1


def collect(node: MetricsSource, now: float, tally: EventTally | None = None) -> list[Family]:
    """Every metric family for `node` at reactor time `now`, read from the live engine."""
    families = [*_node_families(node.engine, now), *_link_families(node.engine, now)]
    families += _local_families(node)
    families += counter_families(node.engine.counters, {family.name for family in families})
    if tally is not None:
        family = Family("hbtwist_events", "counter", "Events the engine reported, by kind.")
        for name in sorted({*EVENT_NAMES, *tally.counts}):
            family.add(tally.counts[name], event=name)
        families.append(family)
    return families


def _node_families(engine: Engine, now: float) -> list[Family]:
    up = Family("hbtwist_node_up", "gauge", "1 if the node is up or active, else 0.")
    status = Family("hbtwist_node_status", "gauge", "1 for the node's current status, else 0.")
    generation = Family("hbtwist_node_generation", "gauge", "The node's generation (0: unknown).")
    since = Family(
        "hbtwist_node_seconds_since_heartbeat",
        "gauge",
        "Seconds since the node's last status message (absent until one arrives).",
    )
    heartbeats = Family(
        "hbtwist_heartbeats_received", "counter", "Status messages received from the node."
    )
    late = Family(
        "hbtwist_late_heartbeats", "counter", "Status messages from the node later than warntime."
    )
    for name, peer in engine.peers.items():
        up.add(int(peer.alive), node=name)
        for known in dict.fromkeys((*KNOWN_STATUSES, peer.status)):
            status.add(int(known == peer.status), node=name, status=known)
        generation.add(peer.generation, node=name)
        if peer.last_status_at is not None:
            since.add(_elapsed(now, peer.last_status_at), node=name)
        heartbeats.add(peer.heartbeats, node=name)
        late.add(peer.late_heartbeats, node=name)
    return [up, status, generation, since, heartbeats, late]


def _link_families(engine: Engine, now: float) -> list[Family]:
    up = Family("hbtwist_link_up", "gauge", "1 if the node is heard through the medium, else 0.")
    since = Family(
        "hbtwist_link_seconds_since_heard",
        "gauge",
        "Seconds since a packet of the node arrived through the medium (absent until one does).",
    )
    packets = Family(
        "hbtwist_link_packets_received",
        "counter",
        "Packets of the node accepted through the medium, copies received on other media included.",
    )
    transitions = Family(
        "hbtwist_link_transitions", "counter", "Times the link changed between up and dead."
    )
    for name, peer in engine.peers.items():
        for link in peer.links.values():
            up.add(int(link.status == LINK_UP), node=name, link=link.name)
            if link.last_heard is not None:
                since.add(_elapsed(now, link.last_heard), node=name, link=link.name)
            packets.add(link.heard, node=name, link=link.name)
            transitions.add(link.transitions, node=name, link=link.name)
    return [up, since, packets, transitions]


def _local_families(node: MetricsSource) -> list[Family]:
    identity = node.identity
    info = Family("hbtwist_local", "info", "This node: its name, uuid and hbtwist version.")
    info.add(1, node=identity.name, uuid=identity.uuid.hex(), version=__version__)
    generation = Family("hbtwist_local_generation", "gauge", "This node's generation number.")
    generation.add(identity.generation)
    comm_up = Family(
        "hbtwist_local_comm_up", "gauge", "1 once every configured node was heard or declared dead."
    )
    comm_up.add(int(node.engine.comm_up))
    return [info, generation, comm_up]


def counter_families(counters: Mapping[str, int], taken: Iterable[str] = ()) -> list[Family]:
    """Families for the engine counters; the four retransmission counters are always present.

    `sent`, `received` and `lost` become `hbtwist_packets_<key>_total`; `dropped.<reason>`
    becomes `hbtwist_packets_dropped_total{reason="<reason>"}`; `rexmit.<what>` becomes
    `hbtwist_rexmit_<what>_total`; any other key becomes `hbtwist_<key>_total` with each
    character outside `[a-zA-Z0-9_]` replaced by `_` (`hbtwist_counter_<key>_total` if that
    name is already taken).
    """
    families: dict[str, Family] = {}
    dropped = Family("hbtwist_packets_dropped", "counter", "Packets dropped before use, by reason.")
    for key, text in PACKET_COUNTERS.items():
        families[f"{PREFIX}packets_{key}"] = Family(f"{PREFIX}packets_{key}", "counter", text)
    for key, text in REXMIT_COUNTERS.items():
        families[f"{PREFIX}rexmit_{key}"] = Family(f"{PREFIX}rexmit_{key}", "counter", text)
    reasons = {reason: 0 for reason in DROP_REASONS}
    values = {f"{PREFIX}packets_{key}": 0 for key in PACKET_COUNTERS}
    values.update({f"{PREFIX}rexmit_{key}": 0 for key in REXMIT_COUNTERS})
    reserved = {*taken, *families, dropped.name}
    for key, value in sorted(counters.items()):
        if key.startswith("dropped."):
            reason = key.removeprefix("dropped.")
            reasons[reason] = reasons.get(reason, 0) + value
            continue
        name = _counter_name(key, reserved)
        if name not in families:
            families[name] = Family(name, "counter", f"Engine counter {key!r}.")
            reserved.add(name)
        values[name] = values.get(name, 0) + value
    for reason, value in reasons.items():
        dropped.add(value, reason=reason)
    for name, family in families.items():
        family.add(values[name])
    return [*families.values(), dropped]


def _counter_name(key: str, reserved: set[str]) -> str:
    if key in PACKET_COUNTERS:
        return f"{PREFIX}packets_{key}"
    safe = re.sub(r"[^a-zA-Z0-9_]", "_", key).removesuffix("_total")
    if key.startswith("rexmit."):
        return PREFIX + safe
    name = PREFIX + safe
    return f"{PREFIX}counter_{safe}" if name in reserved else name


def _elapsed(now: float, then: float) -> float:
    return round(max(0.0, now - then), 3)


def exposition(families: Iterable[Family]) -> str:
    """The OpenMetrics text for `families`, ending in `# EOF`."""
    lines: list[str] = []
    for family in families:
        lines.append(f"# HELP {family.name} {escape(family.help)}")
        lines.append(f"# TYPE {family.name} {family.kind}")
        for labels, value in family.samples:
            lines.append(f"{family.sample_name}{_labels(labels)} {number(value)}")
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def escape(text: str) -> str:
    """`text` as an OpenMetrics label value or help text: `\\`, `"` and newline escaped."""
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{name}="{escape(value)}"' for name, value in labels.items()) + "}"


def number(value: float) -> str:
    """A sample value in OpenMetrics spelling."""
    if isinstance(value, int):
        return str(int(value))
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


class MetricsResource(resource.Resource):
    """`GET /metrics`: the exposition, rendered synchronously in the reactor thread."""

    isLeaf = True

    def __init__(self, node: MetricsSource, clock: IReactorTime, tally: EventTally) -> None:
        super().__init__()
        self._node = node
        self._clock = clock
        self._tally = tally

    def render_GET(self, request: server.Request) -> bytes:  # noqa: N802
        body = exposition(collect(self._node, self._clock.seconds(), self._tally))
        request.setHeader(b"Content-Type", CONTENT_TYPE.encode("ascii"))
        request.setHeader(b"Cache-Control", b"no-store")
        return body.encode("utf-8")


class _Root(resource.Resource):
    def getChild(self, path: bytes, request: server.Request) -> resource.IResource:  # noqa: N802
        return pages.notFound()


class _Index(resource.Resource):
    isLeaf = True

    def render_GET(self, request: server.Request) -> bytes:  # noqa: N802
        request.setHeader(b"Content-Type", b"text/plain; charset=utf-8")
        return b"hbtwist: metrics are at /metrics\n"


class _QuietSite(server.Site):
    """A site that keeps scrapes out of the daemon's log."""

    noisy = False

    def log(self, request: Any) -> None:
        """Do not log each request: a scrape every few seconds would drown the daemon's log."""


def metrics_service(node: MetricsSource, endpoint: str, reactor: Any) -> service.IService:
    """A service named "metrics" serving `GET /metrics` for `node` on the server `endpoint`.

    `endpoint` is a server endpoint string, e.g. `tcp:9694:interface=127.0.0.1`; a bad one
    raises ValueError here. Events are counted from the moment this is called.
    """
    tally = EventTally()
    node.subscribers.append(tally)
    root = _Root()
    root.putChild(b"", _Index())
    root.putChild(b"metrics", MetricsResource(node, reactor, tally))
    metrics = strports.service(endpoint, _QuietSite(root, reactor=reactor), reactor=reactor)
    metrics.setName("metrics")
    return metrics
