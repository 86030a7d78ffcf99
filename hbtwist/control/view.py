"""`NodeView`: the queries and commands the control protocol answers, over an `IClusterNode`.

Every query reads one frozen snapshot of the node, in the reactor thread; the results are plain
dictionaries whose keys are the protocol's field names. Commands go through the node's
`IClusterNode` methods and nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from twisted.internet.interfaces import IReactorTime

from hbtwist import __version__
from hbtwist.control import messages
from hbtwist.control.access import EventSink, IClusterNode, MessageListener, Unsubscribe
from hbtwist.control.protocol import RESOURCE_SETS, BadRequest, UnknownLink, UnknownNode
from hbtwist.core import events
from hbtwist.core.snapshot import FailoverSnapshot, LinkSnapshot, PeerSnapshot
from hbtwist.wire import Message

HEARTBEAT_VERSION = "3.0.6"
"""The Heartbeat release whose protocol and behaviour hbtwist follows."""

NODE_WEIGHT = 100
NODE_SITE = ""
"""Heartbeat's defaults for every node (hbtwist has no weight or site)."""

Item = dict[str, Any]


def event_fields(event: events.Event) -> str:
    """The event's own fields as a JSON object."""
    return json.dumps(asdict(event), separators=(",", ":"))


def failover_record(snapshot: FailoverSnapshot) -> Item:
    """The resource manager's snapshot as the `ResourceStatus` JSON object shows it: the
    snapshot's fields, with each operation count as an object."""
    record = asdict(snapshot)
    record["operations"] = [
        {"operation": operation, "result": result, "count": count}
        for operation, result, count in snapshot.operations
    ]
    return record


class NodeView:
    """Membership, links, parameters and events of one node, as the control protocol shows them."""

    def __init__(self, node: IClusterNode, clock: IReactorTime) -> None:
        self._node = node
        self._clock = clock
        self.started_at = clock.seconds()
        self.name = node.snapshot().local
        """This node's name."""

    def version(self) -> Item:
        """Daemon and Heartbeat versions (the protocol fields are added by the server)."""
        return {"daemon": f"hbtwist {__version__}", "heartbeat": HEARTBEAT_VERSION}

    def local_status(self) -> Item:
        """The `LocalStatus` answer."""
        snapshot = self._node.snapshot()
        return {
            "node": snapshot.local,
            "status": snapshot.local_status,
            "generation": snapshot.generation,
            "uuid": snapshot.uuid.hex(),
            "comm_up": snapshot.comm_up,
            "uptime": max(0.0, self._clock.seconds() - self.started_at),
            "keepalive_ms": snapshot.timing.keepalive_ms,
            "deadtime_ms": snapshot.timing.deadtime_ms,
            "cluster": self.parameter("cluster") or "",
        }

    def nodes(self) -> list[Item]:
        """Every node, in configuration order (nodes that joined later come last)."""
        return [self._node_item(peer) for peer in self._node.snapshot().peers]

    def node_names(self) -> list[str]:
        """The names of every node, in configuration order."""
        return [peer.name for peer in self._node.snapshot().peers]

    def node(self, name: str) -> Item:
        """One node by name (case-insensitive), else UnknownNode."""
        return self._node_item(self._peer(name))

    def links(self, node: str | None = None) -> list[Item]:
        """The links of `node`, or of every node in membership order."""
        peers = [self._peer(node)] if node is not None else self._node.snapshot().peers
        return [self._link_item(link) for peer in peers for link in peer.links]

    def link(self, node: str, link: str) -> Item:
        """One link of one node, else UnknownNode or UnknownLink."""
        peer = self._peer(node)
        found = next((each for each in peer.links if each.name == link), None)
        if found is None:
            raise UnknownLink(f"node {peer.name} has no link {link}")
        return self._link_item(found)

    def parameter(self, name: str) -> str | None:
        """Heartbeat's `getparm` value of `name` (`hbversion` included), None when unset."""
        if name == "hbversion":
            return f"{HEARTBEAT_VERSION} (hbtwist {__version__})"
        return self._node.parameter(name)

    def resources(self) -> str:
        """Heartbeat's `getrsc` answer: `none`, `local`, `foreign`, `all` or `transition`."""
        return self._node.resources().rsc_hold

    def resource_status(self) -> str:
        """The `ResourceStatus` answer: the resource manager's snapshot as compact JSON."""
        return json.dumps(failover_record(self._node.resources()), separators=(",", ":"))

    def standby(self, which: str) -> Item:
        """Ask the node to go standby for the set `which` (BadRequest for an unknown set)."""
        return _request_answer(self._node.standby(_resource_set(which)))

    def takeover(self, which: str) -> Item:
        """Ask the node to take over the set `which` (BadRequest for an unknown set)."""
        return _request_answer(self._node.takeover(_resource_set(which)))

    def subscribe(self, sink: EventSink) -> Unsubscribe:
        """Call `sink` with every event from now on; the returned function stops that."""
        return self._node.subscribe(sink)

    def listen(self, listener: MessageListener) -> Unsubscribe:
        """Call `listener` with every cluster message from now on; the returned function stops that."""
        return self._node.listen(listener)

    def send(self, batch: Sequence[Message]) -> Item:
        """Queue application messages in order (QueueFull, nothing queued, when there is no room)."""
        return messages.submit(self._node, list(batch))

    def now(self) -> float:
        """The node clock's time (seconds since the epoch for a real reactor)."""
        return self._clock.seconds()

    def _peer(self, name: str) -> PeerSnapshot:
        peer = self._node.snapshot().peer(name)
        if peer is None:
            raise UnknownNode(f"no such node: {name}")
        return peer

    def _since(self, moment: float | None) -> float | None:
        if moment is None:
            return None
        return round(max(0.0, self._clock.seconds() - moment), 3)

    def _node_item(self, peer: PeerSnapshot) -> Item:
        return {
            "name": peer.name,
            "type": peer.kind,
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

    def _link_item(self, link: LinkSnapshot) -> Item:
        return {
            "node": link.node,
            "link": link.name,
            "status": link.status,
            "since_heard": self._since(link.last_heard),
            "heard": link.heard,
            "transitions": link.transitions,
        }


def _resource_set(which: str) -> str:
    """`which` if `Standby` and `Takeover` accept it, else BadRequest saying what they accept."""
    if which not in RESOURCE_SETS:
        raise BadRequest(f"unknown resource set {which!r}: give {', '.join(RESOURCE_SETS)}")
    return which


def _request_answer(refusal: str | None) -> Item:
    """The `Standby`/`Takeover` answer for the node's reply (None: the request was sent)."""
    return {"accepted": refusal is None, "reason": refusal}
