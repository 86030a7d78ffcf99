"""Test support: an `IClusterNode` serving real, hand-built snapshots (no engine, no reactor)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from zope.interface import implementer

from hbtwist.control.access import (
    EventSink,
    IClusterNode,
    MessageListener,
    Unsubscribe,
    add_callback,
)
from hbtwist.core.events import Event
from hbtwist.core.snapshot import (
    FailoverSnapshot,
    GroupSnapshot,
    LinkSnapshot,
    NodeSnapshot,
    PeerSnapshot,
    ResourceSnapshot,
)
from hbtwist.core.stats import NodeStats
from hbtwist.core.timing import Timing
from hbtwist.wire import Message

TIMING = Timing(keepalive_ms=1000, deadtime_ms=10000, warntime_ms=5000, initdead_ms=20000)
UUID = bytes.fromhex("0123456789abcdef0123456789abcdef")


def link(
    node: str,
    name: str,
    status: str = "up",
    *,
    last_heard: float | None = None,
    heard: int = 0,
    transitions: int = 0,
) -> LinkSnapshot:
    """The path to `node` through the medium `name`."""
    return LinkSnapshot(node, name, status, last_heard, heard, transitions)


def peer(
    name: str,
    status: str = "active",
    *,
    generation: int = 100,
    links: Sequence[LinkSnapshot] | None = None,
    last_status_at: float | None = None,
    heartbeats: int = 0,
    late_heartbeats: int = 0,
) -> PeerSnapshot:
    """One node as seen from here; by default active with one `eth0` link up."""
    return PeerSnapshot(
        name=name,
        status=status,
        generation=generation,
        uuid=None,
        last_status_at=last_status_at,
        heartbeats=heartbeats,
        late_heartbeats=late_heartbeats,
        deadtime_ms=TIMING.deadtime_ms,
        links=tuple(links if links is not None else [link(name, "eth0")]),
    )


def snapshot(
    peers: Sequence[PeerSnapshot] = (),
    *,
    local: str = "n1",
    generation: int = 100,
    comm_up: bool = True,
    stats: NodeStats | None = None,
) -> NodeSnapshot:
    """The local node `local` (active) with `peers`; the local node is added first if missing."""
    known = {each.name for each in peers}
    everyone = tuple(peers) if local in known else (peer(local, generation=generation), *peers)
    return NodeSnapshot(
        local=local,
        local_status="active",
        generation=generation,
        uuid=UUID,
        comm_up=comm_up,
        timing=TIMING,
        peers=everyone,
        stats=stats or NodeStats(),
        queued=0,
        paused=False,
    )


def resource(
    text: str,
    state: str = "running",
    *,
    path: str = "native",
    operation: str | None = None,
    result: str | None = None,
    duration_ms: int | None = None,
    detail: str = "",
) -> ResourceSnapshot:
    """One resource of a group; by default running natively, nothing run on it yet."""
    return ResourceSnapshot(text, state, path, operation, result, duration_ms, detail)


def group(
    key: str,
    preferred: str = "n1",
    holder: str | None = None,
    state: str = "stopped",
    resources: Sequence[ResourceSnapshot] | None = None,
) -> GroupSnapshot:
    """One resource group; by default a single resource named as the group."""
    members = tuple(resources if resources is not None else [resource(key, state)])
    return GroupSnapshot(key, preferred, holder, state, members)


def failover(
    groups: Sequence[GroupSnapshot] = (),
    *,
    rsc_hold: str = "none",
    stable: bool = True,
    auto_failback: str = "on",
    standby: str | None = None,
    takeovers: int = 0,
    releases: int = 0,
    operations: Sequence[tuple[str, str, int]] = (),
) -> FailoverSnapshot:
    """The resource manager's state; by default stable, holding nothing, with no group."""
    return FailoverSnapshot(
        rsc_hold=rsc_hold,
        stable=stable,
        auto_failback=auto_failback,
        groups=tuple(groups),
        standby=standby,
        takeovers=takeovers,
        releases=releases,
        operations=tuple(operations),
    )


_WEB = group(
    "192.0.2.10",
    preferred="n1",
    holder="n1",
    state="running",
    resources=[
        resource("IPaddr::192.0.2.10", operation="start", result="ok", duration_ms=212),
        resource(
            "httpd",
            path="/etc/init.d/httpd",
            operation="monitor",
            result="ok",
            duration_ms=35,
            detail="httpd is running",
        ),
    ],
)
_DB = group(
    "pgsql",
    preferred="n2",
    holder=None,
    state="failed",
    resources=[
        resource(
            "pgsql",
            "failed",
            path="/etc/init.d/pgsql",
            operation="start",
            result="timeout",
            duration_ms=60_000,
            detail="no answer in 60 s",
        )
    ],
)
HOLDING = failover(
    [_WEB, _DB],
    rsc_hold="local",
    auto_failback="on",
    takeovers=2,
    releases=1,
    operations=[("start", "ok", 3), ("start", "timeout", 1), ("monitor", "ok", 40)],
)
"""n1 holds its group 192.0.2.10 (an address and httpd); pgsql, preferred by n2, failed here."""


@implementer(IClusterNode)
class FakeClusterNode:
    """A node whose state is whatever snapshots the test put in `state` and `failover`.

    `emit` and `deliver` play events and cluster messages to the subscribers and listeners;
    `submitted` collects what the control plane sent, `requests` every standby and takeover
    request as `(request, which)`; each is answered with `refusal` (None: sent).
    """

    def __init__(
        self,
        state: NodeSnapshot,
        parameters: Mapping[str, str] | None = None,
        resources: FailoverSnapshot | None = None,
    ) -> None:
        self.state = state
        self.parameters = dict(parameters or {})
        self.failover = resources or failover()
        self.sinks: list[EventSink] = []
        self.listeners: list[MessageListener] = []
        self.submitted: list[Message] = []
        self.requests: list[tuple[str, str]] = []
        self.refusal: str | None = None

    def snapshot(self) -> NodeSnapshot:
        """The snapshot the test set."""
        return self.state

    def parameter(self, name: str) -> str | None:
        """The value the test set for `name`, None when unset."""
        return self.parameters.get(name)

    def subscribe(self, sink: EventSink) -> Unsubscribe:
        """Add `sink`; the returned function removes it."""
        return add_callback(self.sinks, sink)

    def listen(self, listener: MessageListener) -> Unsubscribe:
        """Add `listener`; the returned function removes it."""
        return add_callback(self.listeners, listener)

    def submit(self, messages: Sequence[Message]) -> None:
        """Record the messages."""
        self.submitted.extend(messages)

    def resources(self) -> FailoverSnapshot:
        """The resource snapshot the test set."""
        return self.failover

    def standby(self, which: str) -> str | None:
        """Record a standby request; answer with `refusal`."""
        self.requests.append(("standby", which))
        return self.refusal

    def takeover(self, which: str) -> str | None:
        """Record a takeover request; answer with `refusal`."""
        self.requests.append(("takeover", which))
        return self.refusal

    def emit(self, event: Event) -> None:
        """Play one event to every subscriber."""
        for sink in list(self.sinks):
            sink(event)

    def deliver(self, sender: str, message: Message) -> None:
        """Play one cluster message to every listener."""
        for listener in list(self.listeners):
            listener(sender, message)
