"""The `unixdgram` medium: one link from a socket this node binds to the socket of its peer.

ha.cf: `unixdgram /run/hb/alpha.sock /run/hb/beta.sock` (both paths absolute). Both nodes run on
one host; each names its own socket first.
"""

from __future__ import annotations

import errno
import os
import socket
import stat
from dataclasses import dataclass
from typing import Any, ClassVar

from twisted.internet.error import CannotListenError
from twisted.internet.protocol import DatagramProtocol
from twisted.plugin import IPlugin
from zope.interface import implementer

from hbtwist.config.media import MediumLine, MediumParser
from hbtwist.media.guard import Receiver, send_failed
from hbtwist.media.interface import (
    IMedium,
    IMediumLink,
    IMediumType,
    MediumContext,
    MediumUnavailable,
    Outgoing,
)

MAX_DATAGRAM = 65536


@implementer(IMedium)
@dataclass(frozen=True)
class UnixDgramMedium:
    """A pair of UNIX datagram socket paths: this node's own and its peer's."""

    kind: ClassVar[str] = "unixdgram"
    own: str
    peer: str
    location: tuple[str, int] = ("", 0)

    @property
    def name(self) -> str:
        """The link name: this node's socket path."""
        return self.own

    def describe(self) -> str:
        """One line for humans."""
        return f"unixdgram {self.own} -> {self.peer}"


def parse_unixdgram(line: MediumLine) -> UnixDgramMedium:
    """`unixdgram <own-path> <peer-path>`; ValueError says what is wrong with the line."""
    words = line.argument.split()
    if len(words) != 2:
        raise ValueError("expected two socket paths (syntax: unixdgram <own-path> <peer-path>)")
    for path in words:
        if not path.startswith("/"):
            raise ValueError(f"socket path {path!r} is not absolute")
    return UnixDgramMedium(words[0], words[1], line.location)


def _held_by_a_process(path: str) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        probe.connect(path)
    except OSError as error:
        return error.errno not in (errno.ECONNREFUSED, errno.ENOENT)
    finally:
        probe.close()
    return True


class _Port(DatagramProtocol):
    def __init__(self, link: UnixDgramLink, receive: Receiver) -> None:
        self._link = link
        self._receive = receive

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:  # noqa: N802
        self._receive(datagram, self._link.name, addr)


@implementer(IMediumLink)
class UnixDgramLink:
    """The bound socket of one `unixdgram` line."""

    def __init__(self, medium: UnixDgramMedium, context: MediumContext) -> None:
        self.medium = medium
        self.name = medium.name
        self.send_failures = 0
        self._context = context
        self._port: Any = None

    def start(self) -> None:
        own = self.medium.own
        if os.path.exists(own):
            if _held_by_a_process(own):
                raise MediumUnavailable(f"socket {own} is in use by another process")
            os.unlink(own)
        protocol = _Port(self, Receiver(self._context.deliver))
        try:
            self._port = self._context.reactor.listenUNIXDatagram(own, protocol, MAX_DATAGRAM)
        except CannotListenError as error:
            raise MediumUnavailable(f"cannot bind {own}: {error.socketError}") from None

    def stop(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            port.stopListening()
            os.unlink(self.medium.own)

    def send(self, outgoing: Outgoing) -> None:
        if self._port is None:
            return
        try:
            self._port.write(outgoing.datagram, self.medium.peer)
        except Exception as error:
            send_failed(self, error)


@implementer(IPlugin, IMediumType)
class UnixDgramMediumType:
    """The `unixdgram` directive: its parser, host check and links."""

    directive = "unixdgram"
    parser = MediumParser(whole_line=True, parse=parse_unixdgram)

    def check_host(self, medium: UnixDgramMedium) -> None:
        """The own socket's folder must exist, and the path must be free or a socket."""
        folder = os.path.dirname(medium.own)
        if not os.path.isdir(folder):
            raise MediumUnavailable(f"no folder {folder} for socket {medium.own}")
        try:
            mode = os.stat(medium.own).st_mode
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(mode):
            raise MediumUnavailable(f"{medium.own} exists and is not a socket")

    def open(self, medium: UnixDgramMedium, context: MediumContext) -> UnixDgramLink:
        """A link for one `unixdgram` line."""
        return UnixDgramLink(medium, context)
