"""The resource manager's vocabulary: the node's phase, a group's state, what it knows of a group."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field

from hbtwist.core.holders import GroupSpec


class Phase(enum.StrEnum):
    """The node's place in the resource protocol."""

    IDLE = "idle"
    """Communication is not up yet: nothing is held, nothing is decided."""
    STARTING = "starting"
    """`starting` was sent; waiting for the peers' reports before acquiring."""
    STABLE = "stable"
    SHUTTING_DOWN = "shutting down"


class State(enum.StrEnum):
    """A group's state on this node."""

    STOPPED = "stopped"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    FAILED = "failed"
    UNCONFIRMED = "unconfirmed"
    """Its stop could not be confirmed: it may still run here, so nobody else may start it."""


HELD = frozenset({State.RUNNING, State.STARTING, State.STOPPING, State.UNCONFIRMED})


@dataclass
class Group:
    """What this node knows of one group."""

    spec: GroupSpec
    state: State = State.STOPPED
    holder: str | None = None
    giver: str | None = None
    """The node giving the group away in a standby; nobody takes it until that one is done."""
    waiting: list[Callable[[bool], None]] = field(default_factory=list)
