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
from hbtwist.core.snapshot import LinkSnapshot, NodeSnapshot, PeerSnapshot
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


@implementer(IClusterNode)
class FakeClusterNode:
    """A node whose state is whatever snapshot the test put in `state`.

    `emit` and `deliver` play events and cluster messages to the subscribers and listeners;
    `submitted` collects what the control plane sent.
    """

    def __init__(self, state: NodeSnapshot, parameters: Mapping[str, str] | None = None) -> None:
        self.state = state
        self.parameters = dict(parameters or {})
        self.sinks: list[EventSink] = []
        self.listeners: list[MessageListener] = []
        self.submitted: list[Message] = []

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

    def emit(self, event: Event) -> None:
        """Play one event to every subscriber."""
        for sink in list(self.sinks):
            sink(event)

    def deliver(self, sender: str, message: Message) -> None:
        """Play one cluster message to every listener."""
        for listener in list(self.listeners):
            listener(sender, message)
