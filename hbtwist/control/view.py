"""`NodeView`: the read-only queries the control protocol answers, over a running node.

Everything here is an in-memory read of the engine's tables, done in the reactor thread; the
results are plain dictionaries whose keys are the protocol's field names.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict
from typing import Any, Protocol

from twisted.internet.interfaces import IReactorTime

from hbtwist import __version__
from hbtwist.control.protocol import UnknownLink, UnknownNode
from hbtwist.core import events
from hbtwist.core.engine import Engine
from hbtwist.core.peers import Link, Peer
from hbtwist.core.stamp import Identity

HEARTBEAT_VERSION = "3.0.6"
"""The Heartbeat release whose protocol and behaviour hbtwist follows."""

NODE_TYPE = "normal"
NODE_WEIGHT = 100
NODE_SITE = ""
"""Heartbeat's defaults for every `node` (hbtwist has no ping nodes and no weight or site)."""

RESOURCES_HELD = "none"
"""`getrsc` until resource groups are managed: this node holds no resources."""

Item = dict[str, Any]


class HaCfLike(Protocol):
    """The part of `HaCf` the view reads."""

    def parameter(self, name: str) -> str | None:
        """The `getparm` value of `name`."""


class ConfigLike(Protocol):
    """The part of `ClusterConfig` the view reads."""

    @property
    def hacf(self) -> HaCfLike:
        """The parsed ha.cf."""


class NodeLike(Protocol):
    """The part of `NodeService` the view reads."""

    engine: Engine
    identity: Identity
    subscribers: list[Callable[[events.Event], None]]

    @property
    def config(self) -> ConfigLike:
        """The loaded configuration."""


def event_kind(event: object) -> str:
    """The protocol name of an event: its class name in snake case (`LinkStatusChanged` ->
    `link_status_changed`)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(event).__name__).lower()


def event_fields(event: events.Event) -> str:
    """The event's own fields as a JSON object."""
    return json.dumps(asdict(event), separators=(",", ":"))


class NodeView:
    """Membership, links, parameters and events of one node, as the control protocol shows them."""

    def __init__(self, node: NodeLike, clock: IReactorTime) -> None:
        self._node = node
        self._clock = clock
        self.started_at = clock.seconds()

    @property
    def service(self) -> NodeLike:
        """The node service this view reads."""
        return self._node

    @property
    def name(self) -> str:
        """This node's name."""
        return self._node.engine.local

    def version(self) -> Item:
        """Daemon and Heartbeat versions (the protocol fields are added by the server)."""
        return {"daemon": f"hbtwist {__version__}", "heartbeat": HEARTBEAT_VERSION}

    def local_status(self) -> Item:
        """The `LocalStatus` answer."""
        engine = self._node.engine
        identity = self._node.identity
        return {
            "node": engine.local,
            "status": engine.local_status,
            "generation": identity.generation,
            "uuid": identity.uuid.hex(),
            "comm_up": engine.comm_up,
            "uptime": max(0.0, self._clock.seconds() - self.started_at),
            "keepalive_ms": engine.timing.keepalive_ms,
            "deadtime_ms": engine.timing.deadtime_ms,
            "cluster": self.parameter("cluster") or "",
        }

    def nodes(self) -> list[Item]:
        """Every node, in configuration order (nodes that joined later come last)."""
        return [self._node_item(peer) for peer in self._node.engine.peers.values()]

    def node(self, name: str) -> Item:
        """One node by name (case-insensitive), else UnknownNode."""
        return self._node_item(self._peer(name))

    def links(self, node: str | None = None) -> list[Item]:
        """The links of `node`, or of every node in membership order."""
        peers = [self._peer(node)] if node is not None else self._node.engine.peers.values()
        return [self._link_item(peer, link) for peer in peers for link in peer.links.values()]

    def link(self, node: str, link: str) -> Item:
        """One link of one node, else UnknownNode or UnknownLink."""
        peer = self._peer(node)
        found = peer.links.get(link)
        if found is None:
            raise UnknownLink(f"node {peer.name} has no link {link}")
        return self._link_item(peer, found)

    def parameter(self, name: str) -> str | None:
        """Heartbeat's `getparm` value of `name` (`hbversion` included), None when unset."""
        if name == "hbversion":
            return f"{HEARTBEAT_VERSION} (hbtwist {__version__})"
        return self._node.config.hacf.parameter(name)

    def resources(self) -> str:
        """Heartbeat's `getrsc` answer."""
        return RESOURCES_HELD

    def subscribe(self, sink: Callable[[events.Event], None]) -> Callable[[], None]:
        """Call `sink` with every event from now on; the returned function stops that."""
        subscribers = self._node.subscribers
        subscribers.append(sink)

        def unsubscribe() -> None:
            if sink in subscribers:
                subscribers.remove(sink)

        return unsubscribe

    def now(self) -> float:
        """The engine clock's time (seconds since the epoch for a real reactor)."""
        return self._clock.seconds()

    def _peer(self, name: str) -> Peer:
        peer = self._node.engine.peers.get(name.lower())
        if peer is None:
            raise UnknownNode(f"no such node: {name}")
        return peer

    def _since(self, moment: float | None) -> float | None:
        if moment is None:
            return None
        return round(max(0.0, self._clock.seconds() - moment), 3)

    def _node_item(self, peer: Peer) -> Item:
        return {
            "name": peer.name,
            "type": NODE_TYPE,
            "status": peer.status,
            "generation": peer.generation,
            "uuid": None if peer.uuid is None else peer.uuid.hex(),
            "since_heartbeat": self._since(peer.last_status_at),
            "heartbeats": peer.heartbeats,
            "late_heartbeats": peer.late_heartbeats,
            "deadtime_ms": peer.deadtime_ms,
            "weight": NODE_WEIGHT,
            "site": NODE_SITE,
        }

    def _link_item(self, peer: Peer, link: Link) -> Item:
        return {
            "node": peer.name,
            "link": link.name,
            "status": link.status,
            "since_heard": self._since(link.last_heard),
            "heard": link.heard,
            "transitions": link.transitions,
        }
