"""The ping media (spec 7.7): `ping`, `ping6` and `ping_group`, each a ping node with one link.

For every status this node sends (not for its repeated copies), the link sends one ICMP echo
request to each of its hosts. As in Heartbeat, the payload is an authenticated message
`t=NS_st st=ping info=ping src=<ping node> ts=<the status's ts>`; a reply that answers an open
request (identifier, sequence number, source: see `icmp.py`) hands that payload to the daemon
through the ping node's link, where it keeps the ping node at status `ping`. A ping_group's
request goes to every member; the first answer counts. Every packet refused is counted in
`dropped` by reason and logged rate-limited; none can raise out of the reactor.
"""

from __future__ import annotations

import socket
from collections import Counter
from dataclasses import dataclass
from typing import Any

from twisted.internet.interfaces import IReadDescriptor
from twisted.logger import Logger
from twisted.plugin import IPlugin
from twisted.python.failure import Failure
from zope.interface import classImplements, implementer

from hbtwist.config.media import MEDIUM_PARSERS, MediumParser, PingMedium
from hbtwist.media.guard import Receiver, send_failed, worth_logging
from hbtwist.media.icmp import (
    EchoSocket,
    EchoTracker,
    Rejected,
    SocketFactory,
    echo_request,
    open_echo_socket,
    parse_reply,
    source_address,
)
from hbtwist.media.interface import (
    IMedium,
    IMediumLink,
    IMediumType,
    MediumContext,
    MediumUnavailable,
    Outgoing,
)
from hbtwist.wire import Message, encode_datagram, sign_inner

READS_PER_CALL = 64
"""Packets read at most each time the socket is readable, so one flood cannot hold the reactor."""
MAX_PACKET = 65535
_log = Logger()

classImplements(PingMedium, IMedium)


def resolve(host: str, family: int) -> str:
    """The address of `host` in IP version `family`; MediumUnavailable if it has none."""
    address_family = socket.AF_INET6 if family == 6 else socket.AF_INET
    try:
        infos = socket.getaddrinfo(host, None, address_family, socket.SOCK_RAW)
    except OSError:
        raise MediumUnavailable(f"cannot resolve {host!r}") from None
    return str(infos[0][4][0]).partition("%")[0]


def ping_payload(node: str, status: Message, outgoing: Outgoing) -> bytes:
    """The authenticated `NS_st` message an echo request of ping node `node` carries."""
    message = Message.of(
        ("t", "NS_st"),
        ("st", "ping"),
        ("info", "ping"),
        ("src", node),
        ("ts", status.text("ts") or "0"),
    )
    return encode_datagram(sign_inner(message, outgoing.keyring), outgoing.keyring)


@implementer(IMediumLink, IReadDescriptor)
class PingLink:
    """One ping node: echo requests out with each status, its accepted replies delivered."""

    def __init__(
        self, medium: PingMedium, context: MediumContext, make_socket: SocketFactory | None = None
    ) -> None:
        self.medium, self.name, self.send_failures = medium, medium.name, 0
        self.dropped: Counter[str] = Counter()
        """Packets read and refused, by reason (`wrong identifier`, `truncated`, ...)."""
        self._context = context
        self._receiver = Receiver(context.deliver)
        self._make_socket = make_socket
        self._echo: EchoSocket | None = None
        self._tracker: EchoTracker | None = None
        self._addresses: tuple[str, ...] = ()
        self._last_status: str | None = None

    def start(self) -> None:
        """Resolve the hosts and open the echo socket; MediumUnavailable if either fails."""
        family = self.medium.family
        self._addresses = tuple(dict.fromkeys(resolve(host, family) for host in self.medium.hosts))
        try:
            echo = open_echo_socket(family, self._make_socket)
        except OSError as error:
            raise MediumUnavailable(str(error)) from None
        self._echo = echo
        self._tracker = EchoTracker(echo.identifier, self._addresses)
        self._context.reactor.addReader(self)
        _log.info(
            "{describe}: pinging {addresses} with {kind} socket, id {identifier}",
            describe=self.medium.describe(),
            addresses=" ".join(self._addresses),
            kind="an unprivileged ping" if echo.unprivileged else "a raw ICMP",
            identifier=echo.identifier,
        )

    def stop(self) -> None:
        """Close the echo socket."""
        echo, self._echo = self._echo, None
        if echo is not None:
            self._context.reactor.removeReader(self)
            echo.sock.close()

    def send(self, outgoing: Outgoing) -> None:
        """One echo request per host for a status message (copies of one status send none)."""
        message = outgoing.message
        echo, tracker = self._echo, self._tracker
        if echo is None or tracker is None or message.text("t") != "status":
            return
        status = message.text("seq")
        if status is not None and status == self._last_status:
            return
        self._last_status = status
        try:
            packet = echo_request(
                self.medium.family,
                echo.identifier,
                tracker.next_sequence(),
                ping_payload(self.medium.node, message, outgoing),
            )
        except Exception as error:
            send_failed(self, error)
            return
        for address in self._addresses:
            try:
                echo.sock.sendto(packet, (address, 0))
            except OSError as error:
                send_failed(self, error)

    # IReadDescriptor

    def fileno(self) -> int:
        """The echo socket's descriptor (-1 once closed)."""
        return -1 if self._echo is None else int(self._echo.sock.fileno())

    def doRead(self) -> None:  # noqa: N802
        """Read what arrived, up to READS_PER_CALL packets."""
        for _ in range(READS_PER_CALL):
            echo = self._echo
            if echo is None:
                return
            try:
                packet, address = echo.sock.recvfrom(MAX_PACKET)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:
                self._drop(f"read error: {error.strerror or error}")
                return
            self.packet_received(packet, address)

    def connectionLost(self, reason: Failure) -> None:  # noqa: N802
        """The reactor dropped the socket; the link stops."""
        self.stop()

    def logPrefix(self) -> str:  # noqa: N802
        """How the reactor names this reader in its logs."""
        return f"ping {self.name}"

    # Packets

    def packet_received(self, packet: bytes, address: Any) -> None:
        """Check one packet read; deliver the payload of an echo reply that answers a request."""
        echo, tracker = self._echo, self._tracker
        if echo is None or tracker is None:
            return
        source = source_address(address)
        try:
            reply = parse_reply(packet, self.medium.family, echo.ip_header)
            tracker.accept(reply, source)
        except Rejected as reason:
            self._drop(str(reason))
            return
        self._receiver(reply.payload, self.name, source)

    def _drop(self, reason: str) -> None:
        self.dropped[reason] += 1
        total = sum(self.dropped.values())
        if worth_logging(total):
            _log.info(
                "{link}: dropped ICMP packet #{total} ({reason})",
                link=self.name,
                total=total,
                reason=reason,
            )


@implementer(IPlugin, IMediumType)
@dataclass(frozen=True)
class PingMediumType:
    """A ping medium kind (`ping`, `ping6`, `ping_group`) as a plugin."""

    directive: str

    @property
    def parser(self) -> MediumParser:
        """How its ha.cf lines are read."""
        return MEDIUM_PARSERS[self.directive]

    def check_host(self, medium: PingMedium) -> None:
        """Every host resolves, and this process can open an echo socket (opened and closed
        at once, bound to nothing a running daemon could hold)."""
        for host in medium.hosts:
            resolve(host, medium.family)
        try:
            echo = open_echo_socket(medium.family)
        except OSError as error:
            raise MediumUnavailable(str(error)) from None
        echo.sock.close()

    def open(self, medium: PingMedium, context: MediumContext) -> PingLink:
        """A link for one ping node."""
        return PingLink(medium, context)


PING_MEDIUM_TYPES = tuple(PingMediumType(directive) for directive in ("ping", "ping6", "ping_group"))
