"""Structured events the core reports: node, link and local state changes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class NodeStatusChanged:
    """A node's status changed (`init`, `up`, `active`, `dead`, or whatever the peer sent)."""

    node: str
    old: str
    new: str
    generation: int


@dataclass(frozen=True)
class LinkStatusChanged:
    """The link to `node` through the medium named `link` became `up` or `dead`."""

    node: str
    link: str
    old: str
    new: str


@dataclass(frozen=True)
class NodeRestarted:
    """A peer came back with a new generation number."""

    node: str
    old_generation: int
    new_generation: int


@dataclass(frozen=True)
class LateHeartbeat:
    """A peer's status arrived later than warntime (or deadtime when `critical`)."""

    node: str
    interval_ms: int
    critical: bool


@dataclass(frozen=True)
class PartitionHealed:
    """A peer declared dead came back with the same generation: a healed partition."""

    node: str


@dataclass(frozen=True)
class LocalStall:
    """This node's own event loop was stalled; timeouts were deferred rather than trusted."""

    stalled_ms: int


@dataclass(frozen=True)
class CommUp:
    """Communication is up: every configured node was heard from or declared dead."""

    node: str


@dataclass(frozen=True)
class MessagesLost:
    """Messages `first..last` from `node` can no longer be recovered: an explicit gap."""

    node: str
    first: int
    last: int
    reason: str


@dataclass(frozen=True)
class ShutdownNotice:
    """A peer announced it is shutting down (`shutdone`)."""

    node: str


@dataclass(frozen=True)
class GroupStateChanged:
    """A resource group changed state on this node, or this node learned of a new holder."""

    group: str
    old: str
    new: str
    holder: str | None


@dataclass(frozen=True)
class ResourceOperation:
    """One resource operation (start, stop, status, monitor) finished on this node."""

    group: str
    resource: str
    operation: str
    result: str
    """`ok`, `failed`, `timeout` or `not running`."""
    duration_ms: int
    path: str
    """`native` or the agent or script that ran."""
    detail: str


@dataclass(frozen=True)
class HoldingChanged:
    """What this node holds (cl_status `rscstatus`) changed."""

    old: str
    new: str


@dataclass(frozen=True)
class FenceResult:
    """This node tried to reset a dead node with its STONITH device (`Resetting node ...`)."""

    node: str
    device: str
    """The STONITH device type, as in `Resetting node X with [type]`."""
    result: str
    """Heartbeat's `stonith` message result: `OK`, `bad`, or `badhost` (the device cannot
    reset that node)."""
    attempt: int
    """1 for the first try after the death, then one more for each retry 5 s after a failure."""


@dataclass(frozen=True)
class PingsReached:
    """How many ping nodes `node` reaches changed (this node's count, or one a peer sent;
    None: the peer no longer says)."""

    node: str
    count: int | None


Event = (
    NodeStatusChanged
    | LinkStatusChanged
    | NodeRestarted
    | LateHeartbeat
    | PartitionHealed
    | LocalStall
    | CommUp
    | MessagesLost
    | ShutdownNotice
    | GroupStateChanged
    | ResourceOperation
    | HoldingChanged
    | FenceResult
    | PingsReached
)

EventSink = Callable[[Event], None]
"""Where the core reports events; the service fans them out to the log, control port and metrics."""

EVENT_NAMES: dict[type, str] = {
    NodeStatusChanged: "node_status_changed",
    LinkStatusChanged: "link_status_changed",
    NodeRestarted: "node_restarted",
    LateHeartbeat: "late_heartbeat",
    PartitionHealed: "partition_healed",
    LocalStall: "local_stall",
    CommUp: "comm_up",
    MessagesLost: "messages_lost",
    ShutdownNotice: "shutdown_notice",
    GroupStateChanged: "group_state_changed",
    ResourceOperation: "resource_operation",
    HoldingChanged: "holding_changed",
    FenceResult: "fence_result",
    PingsReached: "pings_reached",
}
"""The name of each event kind on the control port, in logs and in metrics labels: the
protocol's names, independent of the Python class names."""


def event_name(event: Event) -> str:
    """The wire name of `event`'s kind (see EVENT_NAMES)."""
    return EVENT_NAMES[type(event)]
