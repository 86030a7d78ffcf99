"""The client side of the control protocol, as `hbctl` uses it.

`connect` reaches a daemon at a control address (`unix:PATH` or `ssl:HOST:PORT`), checks the
protocol version and returns a `ControlClient` whose methods gather paged answers. Every way of
not getting an answer becomes `Unreachable`, whose `stopped` flag tells "nothing is listening"
(Heartbeat's "stopped") from "something answered but refused this client".
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from twisted.internet import defer, endpoints, error
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IHandshakeListener
from twisted.internet.protocol import Factory, connectionDone
from twisted.protocols import amp
from twisted.python.failure import Failure
from zope.interface import implementer

from hbtwist.control import DEFAULT_SOCKET
from hbtwist.control import protocol as p
from hbtwist.control.ampsocket import Unreachable

DEFAULT_ADDRESS = f"unix:{DEFAULT_SOCKET}"
DEFAULT_TIMEOUT = 5.0

EventHandler = Callable[[dict[str, Any]], None]
MessageHandler = Callable[[dict[str, Any]], None]
"""Called with a `ClusterMessage`'s arguments (`fields` decoded into a dict)."""
GapHandler = Callable[[dict[str, Any]], None]
"""Called with a `MessageGap`'s arguments."""


@dataclass(frozen=True)
class ControlAddress:
    """Where a daemon's control plane listens."""

    text: str
    path: str | None = None
    host: str | None = None
    port: int | None = None

    @property
    def is_tls(self) -> bool:
        """Whether this is a TLS (TCP) address."""
        return self.path is None


def parse_address(text: str) -> ControlAddress:
    """`unix:PATH` or `ssl:HOST:PORT` (an IPv6 host in brackets), else ValueError."""
    kind, _, rest = text.partition(":")
    if kind == "unix" and rest:
        return ControlAddress(text, path=rest)
    if kind == "ssl":
        host, _, port = rest.rpartition(":")
        host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        if host and port.isdigit() and 0 < int(port) < 65536:
            return ControlAddress(text, host=host, port=int(port))
    raise ValueError(f"bad control address {text!r}: give unix:PATH or ssl:HOST:PORT")


@dataclass(frozen=True)
class ClientTLS:
    """This client's certificate, key, the CA it trusts and the server name it expects."""

    cert: str
    key: str
    ca: str
    server_name: str | None = None


@implementer(IHandshakeListener)
class ClientProtocol(amp.AMP):
    """The client's end of a control connection; receives `Event` calls once subscribed."""

    def __init__(self, server_name: str | None = None) -> None:
        super().__init__()
        self.on_event: EventHandler | None = None
        self.on_message: MessageHandler | None = None
        self.on_gap: GapHandler | None = None
        self.refusal: str | None = None
        self.answered = False
        self.closed: Deferred[None] = Deferred()
        self.lost_reason: Failure | None = None
        self._server_name = server_name

    def handshakeCompleted(self) -> None:  # noqa: N802
        """Check the server certificate's subjectAltName ourselves (Twisted accepts none)."""
        if self._server_name is None:
            return
        from hbtwist.control.tls import peer_identity_problem

        problem = peer_identity_problem(self.transport, [self._server_name])
        if problem is not None:
            self.refusal = f"the daemon's certificate is not for {self._server_name}: {problem}"
            transport: Any = self.transport
            transport.abortConnection()

    @p.Event.responder
    def event(self, seq: int, kind: str, time: float, fields: str) -> dict[str, Any]:
        """Hand one event to `on_event`."""
        if self.on_event is not None:
            self.on_event({"seq": seq, "kind": kind, "time": time, "fields": fields})
        return {}

    @p.ClusterMessage.responder
    def cluster_message(
        self,
        sender: str,
        type: str,
        time: float,
        fields: str,
        seq: int | None = None,
        generation: int | None = None,
        dest: str | None = None,
    ) -> dict[str, Any]:
        """Hand one delivered cluster message to `on_message`."""
        if self.on_message is not None:
            self.on_message(
                {
                    "sender": sender,
                    "type": type,
                    "seq": seq,
                    "generation": generation,
                    "dest": dest,
                    "time": time,
                    "fields": json.loads(fields),
                }
            )
        return {}

    @p.MessageGap.responder
    def message_gap(self, node: str, first: int, last: int, reason: str, time: float) -> dict[str, Any]:
        """Hand one gap (messages that will never be delivered) to `on_gap`."""
        if self.on_gap is not None:
            self.on_gap({"node": node, "first": first, "last": last, "reason": reason, "time": time})
        return {}

    def connectionLost(self, reason: Failure = connectionDone) -> None:  # noqa: N802
        """Remember why, and fire `closed`."""
        super().connectionLost(reason)
        self.lost_reason = reason
        if not self.closed.called:
            self.closed.callback(None)


def describe_failure(failure: Failure, protocol: ClientProtocol | None, address: str) -> Unreachable:
    """The `Unreachable` for a failed connection attempt or a connection lost before an answer."""
    value = failure.value
    if value is None:
        return Unreachable(f"{address}: {failure.getErrorMessage()}")
    if isinstance(value, Unreachable):
        return value
    if protocol is not None and protocol.refusal is not None:
        return Unreachable(protocol.refusal)
    if isinstance(value, error.ConnectionRefusedError):
        return Unreachable(f"{address}: nothing is listening (connection refused)", stopped=True)
    if isinstance(value, error.TimeoutError | defer.TimeoutError | error.ConnectingCancelledError):
        return Unreachable(f"{address}: timed out connecting", timeout=True)
    os_error = getattr(value, "osError", None)
    code = os_error if isinstance(os_error, int) else getattr(os_error, "errno", None)
    if code in (errno.ENOENT, errno.ECONNREFUSED, errno.ENOTDIR):
        return Unreachable(f"{address}: no daemon listening ({os.strerror(code)})", stopped=True)
    if code in (errno.EACCES, errno.EPERM):
        return Unreachable(f"{address}: permission denied")
    tls_reason = _tls_reason(value)
    if tls_reason is not None:
        return Unreachable(f"{address}: TLS refused: {tls_reason}")
    if isinstance(value, error.ConnectError):
        return Unreachable(f"{address}: cannot connect: {value}", stopped=True)
    if isinstance(value, error.ConnectionClosed | error.ConnectionLost | error.ConnectionDone):
        if protocol is not None and not protocol.answered:
            if address.startswith("ssl:"):
                return Unreachable(
                    f"{address}: the daemon refused this client's certificate "
                    "(it closed the connection after the TLS handshake)"
                )
            return Unreachable(f"{address}: the daemon closed the connection before answering")
        return Unreachable(f"{address}: connection to the daemon lost")
    return Unreachable(f"{address}: {failure.getErrorMessage()}")


def _tls_reason(value: BaseException) -> str | None:
    """What went wrong in TLS, if `value` is a TLS failure (OpenSSL's reasons, or identity)."""
    from OpenSSL import SSL
    from service_identity import CertificateError, VerificationError

    if isinstance(value, SSL.Error):
        details = value.args[0] if value.args else []
        texts = [item[2] for item in details if isinstance(item, tuple) and len(item) == 3]
        return "; ".join(texts) or str(value)
    if isinstance(value, VerificationError | CertificateError):
        return f"the daemon's certificate does not match: {value}"
    return None


class ControlClient:
    """Typed calls over one control connection; paged answers are gathered in full."""

    def __init__(self, protocol: ClientProtocol, address: str = "") -> None:
        self.protocol = protocol
        self.address = address
        self.interrupted = False
        """Set when this program is being stopped (Ctrl-C): the connection ends by our doing."""

    async def call(self, command: type[amp.Command], **arguments: Any) -> dict[str, Any]:
        """One command; a lost connection becomes `Unreachable`, AMP errors pass through."""
        try:
            answer: dict[str, Any] = await self.protocol.callRemote(command, **arguments)
        except (error.ConnectionClosed, error.ConnectionLost, error.ConnectionDone):
            raise describe_failure(Failure(), self.protocol, self.address) from None
        except Exception as failure:
            if _tls_reason(failure) is not None or self.protocol.refusal is not None:
                raise describe_failure(Failure(), self.protocol, self.address) from None
            raise
        self.protocol.answered = True
        return answer

    async def version(self) -> dict[str, Any]:
        """The `Version` answer."""
        return await self.call(p.Version)

    async def local_status(self) -> dict[str, Any]:
        """The `LocalStatus` answer."""
        return await self.call(p.LocalStatus)

    async def nodes(self) -> list[dict[str, Any]]:
        """Every node (all pages of `Nodes`)."""
        return await self._all(p.Nodes)

    async def node(self, name: str) -> dict[str, Any]:
        """One node; `protocol.UnknownNode` if there is none of that name."""
        return await self.call(p.Node, name=name)

    async def links(self, node: str | None = None) -> list[dict[str, Any]]:
        """Every link of `node`, or of all nodes (all pages of `Links`)."""
        return await self._all(p.Links, node=node)

    async def parameter(self, name: str) -> str | None:
        """A `getparm` value, None when unset."""
        answer = await self.call(p.Parameter, name=name)
        value: str | None = answer.get("value")
        return value

    async def resources(self) -> str:
        """Which resources this node holds (`none`, `local`, `foreign`, `all`, `transition`)."""
        answer = await self.call(p.Resources)
        hold: str = answer["hold"]
        return hold

    async def resource_status(self) -> dict[str, Any]:
        """The resource manager's state: the `ResourceStatus` JSON object, decoded."""
        answer = await self.call(p.ResourceStatus)
        status: dict[str, Any] = json.loads(answer["status"])
        return status

    async def standby(self, which: str) -> str | None:
        """Ask the node to go standby for `which` (`protocol.RESOURCE_SETS`); None when the
        request was sent, else why the node refused it."""
        return _refusal(await self.call(p.Standby, which=which))

    async def takeover(self, which: str) -> str | None:
        """Ask the node to take over `which` (`protocol.RESOURCE_SETS`); None when the request
        was sent, else why the node refused it."""
        return _refusal(await self.call(p.Takeover, which=which))

    async def subscribe(self, on_event: EventHandler) -> None:
        """Call `on_event` for every event until the connection closes."""
        self.protocol.on_event = on_event
        await self.call(p.Subscribe)
        await self.protocol.closed

    async def send_message(self, fields: Mapping[str, str], dest: str | None = None) -> dict[str, Any]:
        """Queue one cluster message (`fields` holds `t`); the answer has `queued` and `paused`.

        `protocol.BadMessage`, `UnknownNode` or `QueueFull` when the daemon refuses it."""
        return await self.call(p.SendMessage, fields=encode_fields(fields), dest=dest)

    async def send_messages(self, messages: Iterable[Mapping[str, str]]) -> dict[str, Any]:
        """Queue one batch of messages (each with `t`, and `dest` for one node), in order; it must
        respect `protocol.MAX_BATCH_MESSAGES` and AMP's value size (see `batches`)."""
        return await self.call(p.SendMessages, messages=encode_batch(messages))

    async def listen(self, types: Iterable[str], on_message: MessageHandler, on_gap: GapHandler) -> None:
        """Call `on_message` for every delivered message of `types` (all when empty) and
        `on_gap` for every gap, until the connection closes."""
        self.protocol.on_message = on_message
        self.protocol.on_gap = on_gap
        await self.call(p.Listen, types=list(types))
        await self.protocol.closed

    def close(self) -> None:
        """Close the connection."""
        if self.protocol.transport is not None:
            self.protocol.transport.loseConnection()

    async def _all(self, command: type[amp.Command], **arguments: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        offset: int | None = 0
        while offset is not None:
            answer = await self.call(command, offset=offset, **arguments)
            items.extend(answer["items"])
            next_offset = answer.get("next")
            offset = next_offset if next_offset is not None and next_offset > offset else None
        return items


def _refusal(answer: dict[str, Any]) -> str | None:
    """None when a `Standby`/`Takeover` answer says the request was sent, else its reason."""
    if answer["accepted"]:
        return None
    reason: str | None = answer.get("reason")
    return reason or "refused"


def encode_fields(fields: Mapping[str, str]) -> str:
    """The `fields` argument of `SendMessage`: a compact JSON object, in the given order."""
    return json.dumps(dict(fields), separators=(",", ":"), ensure_ascii=False)


def encode_batch(messages: Iterable[Mapping[str, str]]) -> str:
    """The `messages` argument of `SendMessages`: a compact JSON array of objects."""
    return "[" + ",".join(encode_fields(message) for message in messages) + "]"


def batches(
    messages: Iterable[Mapping[str, str]],
    limit: int = p.MAX_BATCH_MESSAGES,
    budget: int = p.BATCH_BUDGET_BYTES,
) -> Iterator[list[Mapping[str, str]]]:
    """`messages` cut, in order, into lists that fit one `SendMessages` call: at most `limit`
    messages and `budget` bytes of JSON. A message too big for any batch is a batch of its own
    (the daemon then refuses it with BAD_MESSAGE, or AMP with TooLong)."""
    batch: list[Mapping[str, str]] = []
    used = 2
    for message in messages:
        size = len(encode_fields(message).encode("utf-8")) + 1
        if batch and (len(batch) >= limit or used + size > budget):
            yield batch
            batch, used = [], 2
        batch.append(message)
        used += size
    if batch:
        yield batch


def _endpoint(reactor: Any, address: ControlAddress, tls: ClientTLS | None, timeout: float) -> Any:
    if address.path is not None:
        return endpoints.UNIXClientEndpoint(reactor, address.path, timeout=timeout)
    if tls is None:
        raise Unreachable(f"{address.text}: TLS needs --cert, --key and --ca")
    from hbtwist.control.tls import TLSSetupError, client_options

    assert address.host is not None and address.port is not None
    try:
        options = client_options(tls.server_name or address.host, tls.cert, tls.key, tls.ca)
    except TLSSetupError as problem:
        raise Unreachable(str(problem)) from None
    tcp = endpoints.HostnameEndpoint(reactor, address.host, address.port, timeout=timeout)
    return endpoints.wrapClientTLS(options, tcp)


async def connect(
    reactor: Any,
    address: ControlAddress,
    tls: ClientTLS | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> ControlClient:
    """A client connected to the daemon at `address` whose protocol version was checked."""
    server_name = None
    if address.is_tls:
        server_name = (tls.server_name if tls else None) or address.host
    protocol = ClientProtocol(server_name)
    endpoint = _endpoint(reactor, address, tls, timeout)
    attempt = endpoint.connect(Factory.forProtocol(lambda: protocol))
    attempt.addTimeout(timeout, reactor)
    try:
        await attempt
    except Exception:
        raise describe_failure(Failure(), protocol, address.text) from None
    client = ControlClient(protocol, address.text)
    check = Deferred.fromCoroutine(client.version())
    check.addTimeout(timeout, reactor)
    try:
        version = await check
    except defer.TimeoutError:
        raise Unreachable(f"{address.text}: no answer from the daemon", timeout=True) from None
    except amp.UnknownRemoteError as problem:
        raise Unreachable(f"{address.text}: not an hbtwist control socket ({problem})") from None
    if version["protocol"] != p.PROTOCOL_VERSION:
        client.close()
        raise Unreachable(
            f"{address.text}: the daemon speaks control protocol {version['protocol']}, "
            f"this hbctl speaks {p.PROTOCOL_VERSION}"
        )
    return client
