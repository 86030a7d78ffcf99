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
    kind: str = "normal"
    """`normal`, or `ping` for a ping node (cl_status `nodetype`)."""
    pings_reached: int | None = None
    """How many ping nodes the node reaches, when it says (hbtwist nodes with ping nodes)."""

    @property
    def alive(self) -> bool:
        """Whether the node is up or active."""
        return self.status in ("up", "active")

    @property
    def reachable(self) -> bool:
        """Whether the node is up or active, or a ping node that answers."""
        return self.alive or (self.kind == "ping" and self.status == "ping")


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


@dataclass(frozen=True)
class ResourceSnapshot:
    """One resource of a group and the last operation run on it here."""

    text: str
    """The resource as written in haresources."""
    state: str
    """`running`, `stopped`, `starting`, `stopping`, `failed` or `unknown`."""
    path: str
    """How it is run: `native` (in process) or the agent or script path."""
    last_operation: str | None = None
    """`start`, `stop`, `status` or `monitor`; None when nothing ran yet."""
    last_result: str | None = None
    """`ok`, `failed`, `timeout`, `not running`; None when nothing ran yet."""
    last_duration_ms: int | None = None
    last_detail: str = ""
    """The operation's last line of output, or why it failed."""


@dataclass(frozen=True)
class GroupSnapshot:
    """One resource group (one haresources line) as this node sees it."""

    key: str
    preferred_node: str
    holder: str | None
    """The node holding the group as far as this node knows; None when nobody does."""
    state: str
    """This node's side: `stopped`, `starting`, `running`, `stopping`, `failed`, or
    `unconfirmed` (a stop that could not be confirmed: never started elsewhere unfenced)."""
    resources: tuple[ResourceSnapshot, ...]


@dataclass(frozen=True)
class FailoverSnapshot:
    """The resource manager at one moment: what this node holds and every group."""

    rsc_hold: str
    """cl_status `rscstatus`: `none`, `local`, `foreign`, `all` or `transition`."""
    stable: bool
    """No resource operation in progress."""
    auto_failback: str
    groups: tuple[GroupSnapshot, ...]
    standby: str | None
    """The standby in progress (`asking all`, `giving foreign`, ...); None when there is none."""
    takeovers: int = 0
    """Groups this node has taken over from another node since it started."""
    releases: int = 0
    """Groups this node has given up (standby, failback, shutdown) since it started."""
    operations: tuple[tuple[str, str, int], ...] = ()
    """(operation, result, count) for every resource operation run here."""
