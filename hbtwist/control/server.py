"""The daemon side of the control protocol: an AMP protocol answering from a `NodeView`.

A connection may carry a peer check (mutual TLS): until the TLS handshake has completed and the
client certificate's identity was accepted, nothing the client sends is read. Subscribed
connections get one `Event` call per event, listening ones (`Listen`) one `ClusterMessage` per
delivered message and one `MessageGap` per unrecoverable gap, all through one queue per
connection, in the order they happened; a client that stops reading is disconnected rather
than allowed to grow the daemon's memory.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from twisted.internet.interfaces import IAddress, IHandshakeListener, IPushProducer
from twisted.internet.protocol import Factory, connectionDone
from twisted.logger import Logger
from twisted.protocols import amp
from twisted.python.failure import Failure
from zope.interface import implementer

from hbtwist.control import messages as cluster_messages
from hbtwist.control import protocol as p
from hbtwist.control.view import Item, NodeView, event_fields
from hbtwist.core import events
from hbtwist.wire import Message

_log = Logger()

MAX_QUEUED_EVENTS = 10_000
"""Calls (events, cluster messages, gaps) kept for a client whose connection is not writable
before it is dropped."""

PeerCheck = Callable[[Any], str | None]
"""Given a transport after the TLS handshake: None to accept the peer, else why it is refused."""


def page(
    items: list[Item],
    fields: list[tuple[bytes, amp.Argument]],
    offset: int | None,
    limit: int | None,
) -> Item:
    """One page of `items`: at most `limit` of them from `offset`, within the AMP value cap."""
    start = 0 if offset is None else offset
    count = p.DEFAULT_PAGE_LIMIT if limit is None else limit
    if start < 0 or count < 1:
        raise p.BadRequest("offset must be >= 0 and limit >= 1")
    count = min(count, p.MAX_PAGE_LIMIT)
    chosen: list[Item] = []
    used = 0
    for item in items[start : start + count]:
        size = p.item_size(fields, item)
        if chosen and used + size > p.PAGE_BUDGET_BYTES:
            break
        chosen.append(item)
        used += size
    end = start + len(chosen)
    return {"items": chosen, "total": len(items), "next": end if end < len(items) else None}


@implementer(IPushProducer)
class _CallStream:
    """Sends calls (events, messages, gaps) to one client, in order, holding them while its
    transport is not writable."""

    def __init__(self, connection: ControlProtocol) -> None:
        self._connection = connection
        self._queue: deque[tuple[type[amp.Command], Item]] = deque()
        self._paused = False

    def push(self, command: type[amp.Command], item: Item) -> None:
        if self._paused or self._queue:
            self._queue.append((command, item))
            if len(self._queue) > MAX_QUEUED_EVENTS:
                self._connection.drop_slow_subscriber(len(self._queue))
            return
        self._send(command, item)

    def _send(self, command: type[amp.Command], item: Item) -> None:
        self._connection.callRemote(command, **item)

    def pauseProducing(self) -> None:  # noqa: N802
        self._paused = True

    def resumeProducing(self) -> None:  # noqa: N802
        self._paused = False
        while self._queue and not self._paused:
            self._send(*self._queue.popleft())

    def stopProducing(self) -> None:  # noqa: N802
        self._queue.clear()
        self._paused = True


@implementer(IHandshakeListener)
class ControlProtocol(amp.AMP):
    """One control connection."""

    def __init__(self, view: NodeView, peer_check: PeerCheck | None = None) -> None:
        super().__init__()
        self.view = view
        self._peer_check = peer_check
        self.authorized = peer_check is None
        self.refusal: str | None = None
        self._stream: _CallStream | None = None
        self._stops: list[Callable[[], None]] = []
        self._subscribed = False
        self._event_seq = 0
        self._listening: cluster_messages.TypeFilter | None = None

    # Access control (mutual TLS)

    def handshakeCompleted(self) -> None:  # noqa: N802
        """The TLS handshake is done: accept the client certificate's identity, or disconnect."""
        if self._peer_check is None:
            return
        try:
            self.refusal = self._peer_check(self.transport)
        except Exception as error:  # an unreadable certificate is a refusal, never a pass
            self.refusal = f"identity check failed: {error}"
        if self.refusal is None:
            self.authorized = True
            return
        _log.warn(
            "Control connection from {peer} refused: {reason}",
            peer=self._peer(),
            reason=self.refusal,
        )
        self._transport().abortConnection()

    def dataReceived(self, data: bytes) -> None:  # noqa: N802
        """Read requests only from an accepted peer."""
        if self.authorized:
            super().dataReceived(data)

    def makeConnection(self, transport: Any) -> None:  # noqa: N802
        """Start the connection without AMP's log line: hbctl connects for every command."""
        amp.BinaryBoxProtocol.makeConnection(self, transport)

    def connectionLost(self, reason: Failure = connectionDone) -> None:  # noqa: N802
        """Stop the event and message streams and log a TLS refusal (no certificate, wrong CA,
        expired...)."""
        self._stop_streams()
        if not self.authorized and self.refusal is None:
            _log.warn(
                "Control connection from {peer} refused during the TLS handshake: {reason}",
                peer=self._peer(),
                reason=reason.getErrorMessage(),
            )
        amp.BinaryBoxProtocol.connectionLost(self, reason)  # without AMP's per-connection log line
        self.transport = None

    def _transport(self) -> Any:
        """The transport, with what TCP, UNIX and TLS transports offer beyond ITransport."""
        return self.transport

    def _peer(self) -> str:
        peer: IAddress | None = self.transport.getPeer() if self.transport else None
        host = getattr(peer, "host", None)
        return f"{host}:{getattr(peer, 'port', '')}" if host else str(peer)

    # Commands

    @p.Version.responder
    def version(self) -> Item:
        """Answer `Version`."""
        return {
            "protocol": p.PROTOCOL_VERSION,
            "commands": p.command_names(),
            **self.view.version(),
        }

    @p.LocalStatus.responder
    def local_status(self) -> Item:
        """Answer `LocalStatus`."""
        return self.view.local_status()

    @p.Nodes.responder
    def nodes(self, offset: int | None = None, limit: int | None = None) -> Item:
        """Answer `Nodes`."""
        return page(self.view.nodes(), p.NODE_FIELDS, offset, limit)

    @p.Node.responder
    def node(self, name: str) -> Item:
        """Answer `Node`."""
        return self.view.node(name)

    @p.Links.responder
    def links(
        self, node: str | None = None, offset: int | None = None, limit: int | None = None
    ) -> Item:
        """Answer `Links`."""
        return page(self.view.links(node), p.LINK_FIELDS, offset, limit)

    @p.Parameter.responder
    def parameter(self, name: str) -> Item:
        """Answer `Parameter`."""
        return {"value": self.view.parameter(name)}

    @p.Resources.responder
    def resources(self) -> Item:
        """Answer `Resources`."""
        return {"hold": self.view.resources()}

    @p.ResourceStatus.responder
    def resource_status(self) -> Item:
        """Answer `ResourceStatus`."""
        return {"status": self.view.resource_status()}

    @p.Standby.responder
    def standby(self, which: str) -> Item:
        """Answer `Standby`: hand the request to the node, say whether it was sent."""
        return self._logged("standby", which, self.view.standby(which))

    @p.Takeover.responder
    def takeover(self, which: str) -> Item:
        """Answer `Takeover`: hand the request to the node, say whether it was sent."""
        return self._logged("takeover", which, self.view.takeover(which))

    def _logged(self, request: str, which: str, answer: Item) -> Item:
        """Log an operator's standby or takeover request and its outcome; return the answer."""
        if answer["accepted"]:
            _log.info(
                "Control client {peer} asked for {request} [{which}]",
                peer=self._peer(),
                request=request,
                which=which,
            )
        else:
            _log.warn(
                "Control client {peer} asked for {request} [{which}]: refused: {reason}",
                peer=self._peer(),
                request=request,
                which=which,
                reason=answer["reason"],
            )
        return answer

    @p.Subscribe.responder
    def subscribe(self) -> Item:
        """Answer `Subscribe` and start sending `Event`s (a second Subscribe changes nothing)."""
        if not self._subscribed:
            self._subscribed = True
            self._call_stream()
            self._stops.append(self.view.subscribe(self._on_event))
            _log.debug("Control client {peer} subscribed to events", peer=self._peer())
        return {"node": self.view.name}

    def _call_stream(self) -> _CallStream:
        """This connection's call stream, registered as its transport's producer on first use."""
        if self._stream is None:
            self._stream = _CallStream(self)
            self._transport().registerProducer(self._stream, True)
        return self._stream

    def _push(self, command: type[amp.Command], item: Item) -> None:
        stream = self._stream
        if stream is None:
            return
        try:
            stream.push(command, item)
        except Exception:
            _log.failure(
                "Sending a {command} to control client {peer} failed",
                command=command.__name__,
                peer=self._peer(),
            )
            self._stop_streams()
            self._transport().abortConnection()

    def _on_event(self, event: events.Event) -> None:
        if not self._subscribed:
            return
        self._event_seq += 1
        item = {
            "seq": self._event_seq,
            "kind": events.event_name(event),
            "time": self.view.now(),
            "fields": event_fields(event),
        }
        self._push(p.Event, item)

    # Cluster messaging

    @p.SendMessage.responder
    def send_message(self, fields: str, dest: str | None = None) -> Item:
        """Answer `SendMessage`: check the message, queue it, say how many wait."""
        message = cluster_messages.parse_message(fields, dest, self.view.node_names())
        answer = self.view.send([message])
        return {"queued": answer["queued"], "paused": answer["paused"]}

    @p.SendMessages.responder
    def send_messages(self, messages: str) -> Item:
        """Answer `SendMessages`: check every message, then queue them all in order."""
        return self.view.send(cluster_messages.parse_batch(messages, self.view.node_names()))

    @p.Listen.responder
    def listen(self, types: list[str] | None = None) -> Item:
        """Answer `Listen` and start sending `ClusterMessage`s of `types` (all when empty) and
        every `MessageGap`; a second Listen replaces the types."""
        first = self._listening is None
        self._listening = cluster_messages.TypeFilter(types)
        if first:
            self._call_stream()
            self._stops.append(self.view.listen(self._on_message))
            self._stops.append(self.view.subscribe(self._on_gap))
            _log.debug("Control client {peer} listens to cluster messages", peer=self._peer())
        return {"node": self.view.name}

    def _on_message(self, sender: str, message: Message) -> None:
        """Called by the node for every delivered message: it must never raise."""
        wanted = self._listening
        if wanted is None or not wanted(message):
            return
        try:
            item = cluster_messages.message_arguments(sender, message, self.view.now())
        except Exception:
            _log.failure("Describing a cluster message from {sender} failed", sender=sender)
            return
        self._push(p.ClusterMessage, item)

    def _on_gap(self, event: events.Event) -> None:
        if self._listening is None or not isinstance(event, events.MessagesLost):
            return
        item = {
            "node": event.node,
            "first": event.first,
            "last": event.last,
            "reason": event.reason,
            "time": self.view.now(),
        }
        self._push(p.MessageGap, item)

    def _stop_streams(self) -> None:
        """Forget every subscription and listener of this connection."""
        stops, self._stops = self._stops, []
        for stop in stops:
            stop()
        self._subscribed = False
        self._listening = None

    def drop_slow_subscriber(self, queued: int) -> None:
        """Disconnect a client that let `queued` calls (events, messages) pile up."""
        _log.warn(
            "Control client {peer} does not read its events or messages ({queued} queued); "
            "disconnecting",
            peer=self._peer(),
            queued=queued,
        )
        self._stop_streams()
        self._stream = None
        self._transport().abortConnection()


class ControlFactory(Factory):
    """Builds a `ControlProtocol` per connection, all reading the same view."""

    noisy = False

    def __init__(self, view: NodeView, peer_check: PeerCheck | None = None) -> None:
        self.view = view
        self.peer_check = peer_check

    def buildProtocol(self, addr: IAddress | None) -> ControlProtocol:  # noqa: N802
        """A protocol for one accepted connection."""
        protocol = ControlProtocol(self.view, self.peer_check)
        protocol.factory = self
        return protocol
