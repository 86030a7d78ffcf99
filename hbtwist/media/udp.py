"""The UDP media: bcast, mcast, mcast6, ucast and ucast6 over shared per-interface sockets."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any

from twisted.logger import Logger
from twisted.plugin import IPlugin
from zope.interface import alsoProvides, classImplements, implementer

from hbtwist.config.media import (
    MEDIUM_PARSERS,
    BcastMedium,
    Mcast6Medium,
    McastMedium,
    MediumParser,
    Ucast6Medium,
    UcastMedium,
)
from hbtwist.media import hostinfo, sockets
from hbtwist.media.dgram import DatagramSocket
from hbtwist.media.guard import Receiver, send_failed
from hbtwist.media.interface import (
    IMedium,
    IMediumLink,
    IMediumType,
    IUnicastLink,
    MediumContext,
    Outgoing,
)
from hbtwist.media.pacing import ReadPacer

UdpMedium = BcastMedium | McastMedium | Mcast6Medium | UcastMedium | Ucast6Medium
MAX_DATAGRAM = 65535
PACER_KEY = ("udp", "read pacer")
"""Where the node's UDP sockets keep their shared read pacer in `MediumContext.shared`."""
_log = Logger()

classImplements(BcastMedium, IMedium)
classImplements(McastMedium, IMedium)
classImplements(Mcast6Medium, IMedium)
classImplements(UcastMedium, IMedium)
classImplements(Ucast6Medium, IMedium)


def destination(medium: UdpMedium) -> tuple[Any, ...]:
    """Where `medium` sends; MediumUnavailable if this host cannot reach it (the host check)."""
    if isinstance(medium, BcastMedium):
        return (hostinfo.broadcast_address(medium.interface), medium.port)
    if isinstance(medium, McastMedium):
        hostinfo.interface_index(medium.interface)
        return (medium.group, medium.port)
    if isinstance(medium, Mcast6Medium):
        return (medium.group, medium.port, 0, hostinfo.interface_index(medium.interface))
    if isinstance(medium, Ucast6Medium):
        scope = hostinfo.ipv6_scope(medium.interface, medium.peer, medium.scope)
        return (medium.peer, medium.port, 0, scope)
    hostinfo.interface_index(medium.interface)
    return (hostinfo.resolve_ipv4(medium.peer), medium.port)


def family_of(medium: UdpMedium) -> socket.AddressFamily:
    """The address family of the medium's socket."""
    return socket.AF_INET6 if isinstance(medium, (Mcast6Medium, Ucast6Medium)) else socket.AF_INET


class SharedPort:
    """One UDP socket per (family, interface, port), shared by every medium that uses it."""

    def __init__(self, interface: str, receiver: Receiver) -> None:
        self.interface = interface
        self.receiver = receiver
        self.users = 0
        self.socket: DatagramSocket | None = None
        """The socket, read by the reactor; None once closed."""

    def datagram_received(self, datagram: bytes, addr: Any) -> None:
        """Pass a datagram on, naming the interface it came through."""
        self.receiver(datagram, self.interface, addr)


def _shared_port(
    context: MediumContext, family: socket.AddressFamily, interface: str, port: int
) -> SharedPort:
    key = ("udp", family, interface, port)
    shared = context.shared.get(key)
    if shared is None:
        sock = sockets.open_udp_socket(family, interface, port, context.bind_address)
        shared = SharedPort(interface, Receiver(context.deliver))
        shared.socket = DatagramSocket(
            context.reactor, sock, shared.datagram_received, MAX_DATAGRAM, _pacer(context)
        )
        shared.socket.start()
        context.shared[key] = shared
    shared.users += 1
    return shared


def _pacer(context: MediumContext) -> ReadPacer | None:
    """The read pacer the node's UDP sockets share, if the context gives a keepalive."""
    if context.keepalive <= 0:
        return None
    pacer: ReadPacer | None = context.shared.get(PACER_KEY)
    if pacer is None:
        pacer = context.shared[PACER_KEY] = ReadPacer(context.reactor, context.keepalive)
    return pacer


@implementer(IMediumLink)
class UdpLink:
    """One UDP medium line: where it sends, through which shared socket."""

    def __init__(self, medium: UdpMedium, context: MediumContext) -> None:
        self.medium = medium
        self.name = medium.name
        self.send_failures = 0
        self._context = context
        self._port: SharedPort | None = None
        self._destination: tuple[Any, ...] = ()
        self.peer_host = ""
        if isinstance(medium, (UcastMedium, Ucast6Medium)):
            alsoProvides(self, IUnicastLink)

    def start(self) -> None:
        medium = self.medium
        self._destination = destination(medium)
        self.peer_host = self._destination[0]
        self._port = port = _shared_port(self._context, family_of(medium), medium.interface, medium.port)
        assert port.socket is not None
        sock = port.socket.socket
        try:
            if isinstance(medium, McastMedium):
                sockets.join_ipv4_group(sock, medium.group, medium.interface, medium.ttl, medium.loop)
            elif isinstance(medium, Mcast6Medium):
                sockets.join_ipv6_group(sock, medium.group, medium.interface, medium.ttl, medium.loop)
        except Exception:
            self.stop()
            raise
        _log.info("{line} started", line=medium.describe())

    def stop(self) -> None:
        port, self._port = self._port, None
        if port is None:
            return
        port.users -= 1
        if port.users == 0:
            for key, value in list(self._context.shared.items()):
                if value is port:
                    del self._context.shared[key]
            if port.socket is not None:
                port.socket.close()
                port.socket = None

    def send(self, outgoing: Outgoing) -> None:
        port = self._port
        if port is None or port.socket is None:
            return
        try:
            port.socket.send(outgoing.datagram, self._destination)
        except OSError as error:
            send_failed(self, error)


@implementer(IPlugin, IMediumType)
@dataclass(frozen=True)
class UdpMediumType:
    """A UDP medium kind as a plugin: its directive, line parser and opener."""

    directive: str

    @property
    def parser(self) -> MediumParser:
        """How its ha.cf lines are read."""
        return MEDIUM_PARSERS[self.directive]

    def check_host(self, medium: UdpMedium) -> None:
        """The interface exists, bcast has a broadcast address, a ucast peer resolves and a
        link-local ucast6 peer's scope is the medium's interface: what `start` needs."""
        destination(medium)

    def open(self, medium: UdpMedium, context: MediumContext) -> UdpLink:
        """A link for one configured line."""
        return UdpLink(medium, context)


UDP_MEDIUM_TYPES = tuple(
    UdpMediumType(directive) for directive in ("bcast", "mcast", "mcast6", "ucast", "ucast6")
)
