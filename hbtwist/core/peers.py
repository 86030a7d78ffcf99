"""What membership knows about each cluster node and each of its links."""

from __future__ import annotations

from dataclasses import dataclass, field

from hbtwist.core.deadline import Deadline
from hbtwist.core.snapshot import LinkSnapshot, PeerSnapshot

INIT = "init"
UP = "up"
ACTIVE = "active"
DEAD = "dead"
PING = "ping"
"""The status of a ping node whose echo replies arrive."""
NORMAL_NODE = "normal"
PING_NODE = "ping"
"""Node types, as cl_status `nodetype` shows them."""
LINK_UP = "up"
LINK_DEAD = "dead"
PING = "ping"
"""The status of a ping node whose echo replies arrive."""
NORMAL_NODE = "normal"
PING_NODE = "ping"
"""Node types, as cl_status `nodetype` shows them."""


@dataclass
class Link:
    """The path to one node through one medium."""

    name: str
    deadline: Deadline = field(init=False)
    status: str = LINK_DEAD
    last_heard: float | None = None
    heard: int = 0
    transitions: int = 0


@dataclass
class Peer:
    """One cluster node as seen from here (the local node has an entry too)."""

    name: str
    deadtime_ms: int
    kind: str = NORMAL_NODE
    """`normal`, or `ping` for a ping node (a host answering ICMP echo, never a member)."""
    deadline: Deadline = field(init=False)
    confirm: Deadline = field(init=False)
    """Runs once the reactor has read what arrived meanwhile, after `deadline` expired."""
    links: dict[str, Link] = field(default_factory=dict)
    status: str = INIT
    uuid: bytes | None = None
    generation: int = 0
    heard: bool = False
    last_status_at: float | None = None
    last_status_seq: int = 0
    newest_at: float | None = None
    """When the first copy of the newest message from this node arrived."""
    heartbeats: int = 0
    late_heartbeats: int = 0
    shutdown_generation: int = 0
    """The generation that announced its shutdown (`shutdone`); it cannot come back to life."""
    pings_reached: int | None = None
    """How many ping nodes the node says it reaches (hbtwist nodes with ping nodes only)."""

    @property
    def alive(self) -> bool:
        """Whether the node is up or active (never true of a ping node)."""
        return self.status in (UP, ACTIVE)

    @property
    def is_ping(self) -> bool:
        """Whether this is a ping node."""
        return self.kind == PING_NODE

    def snapshot(self) -> PeerSnapshot:
        """The node and its links now, frozen."""
        return PeerSnapshot(
            name=self.name,
            status=self.status,
            generation=self.generation,
            uuid=self.uuid,
            last_status_at=self.last_status_at,
            heartbeats=self.heartbeats,
            late_heartbeats=self.late_heartbeats,
            deadtime_ms=self.deadtime_ms,
            links=tuple(
                LinkSnapshot(
                    self.name, link.name, link.status, link.last_heard, link.heard, link.transitions
                )
                for link in self.links.values()
            ),
            kind=self.kind,
            pings_reached=self.pings_reached,
        )
