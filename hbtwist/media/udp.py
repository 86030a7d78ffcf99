"""The UDP media: bcast, mcast, mcast6, ucast and ucast6 over shared per-interface sockets."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any

from twisted.internet.protocol import DatagramProtocol
from twisted.logger import Logger
from twisted.plugin import IPlugin
from zope.interface import implementer

from hbtwist.config.media import (
    MEDIUM_PARSERS,
    BcastMedium,
    Mcast6Medium,
    McastMedium,
    MediumParser,
    Ucast6Medium,
    UcastMedium,
)
from hbtwist.media import sockets
from hbtwist.media.interface import Deliver, IMediumLink, IMediumType, MediumContext, Outgoing

UdpMedium = BcastMedium | McastMedium | Mcast6Medium | UcastMedium | Ucast6Medium
MAX_DATAGRAM = 65535
_log = Logger()


class SharedPort(DatagramProtocol):
    """One UDP socket per (family, interface, port), shared by every medium that uses it."""

    noisy = False

    def __init__(self, interface: str, deliver: Deliver) -> None:
        self.interface = interface
        self._deliver = deliver
        self.users = 0
        self.send_errors = 0
        self.port: Any = None
        """The adopted Twisted UDP port; its `socket` takes the options Twisted does not set."""

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:  # noqa: N802
        self._deliver(datagram, self.interface, addr)

    def write(self, datagram: bytes, address: tuple[Any, ...]) -> None:
        """Send, counting (not raising) errors such as an unplugged cable."""
        if self.transport is None:
            return
        try:
            self.transport.write(datagram, address)
        except OSError as error:
            self.send_errors += 1
            if self.send_errors in (1, 10, 100) or self.send_errors % 1000 == 0:
                _log.warn(
                    "Write error on {interface}: {error} ({count} so far). Is a cable unplugged?",
                    interface=self.interface,
                    error=error,
                    count=self.send_errors,
                )


def _shared_port(
    context: MediumContext, family: socket.AddressFamily, interface: str, port: int
) -> SharedPort:
    key = ("udp", family, interface, port)
    shared = context.shared.get(key)
    if shared is None:
        sock = sockets.open_udp_socket(family, interface, port, context.bind_address)
        shared = SharedPort(interface, context.deliver)
        try:
            shared.port = context.reactor.adoptDatagramPort(sock.fileno(), family, shared, MAX_DATAGRAM)
        finally:
            sock.close()
        context.shared[key] = shared
    shared.users += 1
    return shared


@implementer(IMediumLink)
class UdpLink:
    """One UDP medium line: where it sends, through which shared socket."""

    def __init__(self, medium: UdpMedium, context: MediumContext) -> None:
        self.medium = medium
        self.name = medium.name
        self._context = context
        self._port: SharedPort | None = None
        self._destination: tuple[Any, ...] = ()

    def start(self) -> None:
        medium = self.medium
        family = socket.AF_INET6 if isinstance(medium, (Mcast6Medium, Ucast6Medium)) else socket.AF_INET
        self._port = port = _shared_port(self._context, family, medium.interface, medium.port)
        sock = port.port.socket
        if isinstance(medium, BcastMedium):
            self._destination = (sockets.broadcast_address(medium.interface), medium.port)
        elif isinstance(medium, McastMedium):
            sockets.join_ipv4_group(sock, medium.group, medium.interface, medium.ttl, medium.loop)
            self._destination = (medium.group, medium.port)
        elif isinstance(medium, Mcast6Medium):
            sockets.join_ipv6_group(sock, medium.group, medium.interface, medium.ttl, medium.loop)
            self._destination = (medium.group, medium.port, 0, sockets.interface_index(medium.interface))
        elif isinstance(medium, Ucast6Medium):
            scope = sockets.interface_index(medium.scope or medium.interface)
            self._destination = (medium.peer, medium.port, 0, scope)
        else:
            self._destination = (socket.gethostbyname(medium.peer), medium.port)
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
            port.port.stopListening()

    def send(self, outgoing: Outgoing) -> None:
        if self._port is not None:
            self._port.write(outgoing.datagram, self._destination)


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
        """The interface must exist, and have a broadcast address for bcast."""
        if isinstance(medium, BcastMedium):
            sockets.broadcast_address(medium.interface)
        else:
            sockets.interface_index(medium.interface)

    def open(self, medium: UdpMedium, context: MediumContext) -> UdpLink:
        """A link for one configured line."""
        return UdpLink(medium, context)


UDP_MEDIUM_TYPES = tuple(
    UdpMediumType(directive) for directive in ("bcast", "mcast", "mcast6", "ucast", "ucast6")
)
