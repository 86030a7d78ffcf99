"""Frozen views of a node's state for readers (control port, metrics, manhole, hbctl)."""

from __future__ import annotations

from dataclasses import dataclass

from hbtwist.core.stats import NodeStats
from hbtwist.core.timing import Timing
from hbtwist.wire.names import fold_name


@dataclass(frozen=True)
class LinkSnapshot:
    """The path to one node through one medium."""

    node: str
    name: str
    status: str
    last_heard: float | None
    """Clock time of the last packet of the node through this medium (None: never)."""
    heard: int
    transitions: int


@dataclass(frozen=True)
class PeerSnapshot:
    """One cluster node as seen from here (the local node included)."""

    name: str
    status: str
    generation: int
    uuid: bytes | None
    last_status_at: float | None
    heartbeats: int
    late_heartbeats: int
    deadtime_ms: int
    links: tuple[LinkSnapshot, ...]

    @property
    def alive(self) -> bool:
        """Whether the node is up or active."""
        return self.status in ("up", "active")


@dataclass(frozen=True)
class DeliverySnapshot:
    """What reliable delivery holds at one moment."""

    queued: int
    """Application messages waiting to be sent."""
    paused: bool
    """Whether application messages wait for acknowledgements (flow control)."""
    pending_requests: int
    """Missing numbers of other nodes being asked for again."""
    held_messages: int
    """Messages of other nodes held until the gaps before them are repaired or given up."""


@dataclass(frozen=True)
class NodeSnapshot:
    """Everything a reader may know about the local node at one moment."""

    local: str
    local_status: str
    generation: int
    uuid: bytes
    comm_up: bool
    timing: Timing
    peers: tuple[PeerSnapshot, ...]
    """Every node in configuration order (nodes that joined later come last)."""
    stats: NodeStats
    queued: int
    """Application messages waiting to be sent."""
    paused: bool
    """Whether application messages wait for acknowledgements (flow control)."""

    def peer(self, name: str) -> PeerSnapshot | None:
        """The node called `name` (case-insensitive), if it is known."""
        wanted = fold_name(name)
        return next((peer for peer in self.peers if peer.name == wanted), None)
