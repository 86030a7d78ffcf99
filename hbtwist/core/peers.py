"""What membership knows about each cluster node and each of its links."""

from __future__ import annotations

from dataclasses import dataclass, field

from hbtwist.core.deadline import Deadline

INIT = "init"
UP = "up"
ACTIVE = "active"
DEAD = "dead"
LINK_UP = "up"
LINK_DEAD = "dead"


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

    @property
    def alive(self) -> bool:
        """Whether the node is up or active."""
        return self.status in (UP, ACTIVE)
