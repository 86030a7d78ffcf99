"""The medium plugin API: what a medium kind, its parsed ha.cf lines and its open links provide.

A new medium is one Twisted plugin providing `IMediumType` (see doc/media-plugins.md): a parser
turning its ha.cf lines into `IMedium` objects, a host check, and a factory of `IMediumLink`s.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from twisted.internet.defer import Deferred
from zope.interface import Attribute, Interface

from hbtwist.wire import Keyring, Message, encode_frame

Deliver = Callable[[bytes, str, object], None]
"""How a medium hands a received datagram or frame to the daemon: (bytes, link name, source)."""


class MediumUnavailable(Exception):
    """This host cannot carry a configured medium (missing interface, address, device, busy port).

    Raised by `IMediumType.check_host` and by `IMediumLink.start`; its text is one line saying
    what is wrong, without the medium's name (the caller prefixes it).
    """


@dataclass
class Outgoing:
    """One stamped message, serialized once for every medium that sends it."""

    message: Message
    datagram: bytes
    keyring: Keyring = field(repr=False)

    @cached_property
    def frame(self) -> bytes:
        """The classic-text form, with a fresh inner `auth`, for line media such as serial."""
        return encode_frame(self.message, self.keyring)


@dataclass
class MediumContext:
    """What the daemon gives a medium plugin when it opens a link."""

    reactor: Any
    deliver: Deliver
    node: str
    """The local node's name."""
    bind_address: str | None = None
    shared: dict[object, Any] = field(default_factory=dict)
    """Resources media of one node share (for example one UDP socket per interface and port)."""
    keepalive: float = 0.0
    """The keepalive in seconds, for pacing the reads of busy sockets (`hbtwist.media.pacing`);
    0 reads every datagram as soon as it arrives."""


class IMedium(Interface):
    """One parsed ha.cf medium line; immutable and comparable (a repeated line is warned about)."""

    kind = Attribute("The ha.cf directive that configured it, e.g. 'bcast'.")
    name = Attribute("The link name reported for it (an interface, a device or socket path).")
    location = Attribute("Where it was configured: (file path, line number).")

    def describe() -> str:
        """One line for humans, e.g. `bcast eth0 :694` (shown by `hbctl check` and in logs)."""


class IMediumLink(Interface):
    """One open medium: it sends every outgoing message and delivers what it receives.

    Contract with the daemon:

    * `start()` either opens the medium or raises `MediumUnavailable` with a one-line reason;
      the daemon then logs that line (prefixed by the medium) and refuses to run. A medium whose
      device may come later (a serial port) opens it in the background instead of raising.
    * `send()` never raises: failures are counted in `send_failures` and logged rate-limited.
    * `deliver` (from the context) is called only for received bytes, and an exception raised by
      it never escapes the medium's receive path (see `hbtwist.media.guard.Receiver`).
    """

    name = Attribute("The link name reported for this medium (an interface or a device path).")
    medium = Attribute("The IMedium this link carries.")
    send_failures = Attribute("How many messages this link failed to send (an int, only grows).")

    def start() -> None:
        """Open the medium, or raise MediumUnavailable saying in one line why it cannot be."""

    def stop() -> Deferred[None] | None:
        """Close the medium."""

    def send(outgoing: Outgoing) -> None:
        """Send one message; never raises (failures are counted in send_failures and logged)."""


class IUnicastLink(IMediumLink):
    """A link that reaches one host only (`ucast`): a message that only another node reads
    (an acknowledgement) need not take it. Optional: a link without it carries everything."""

    peer_host = Attribute("The address of the host this link sends to, as text, once started.")


class IMediumType(Interface):
    """A kind of medium, found as a Twisted plugin: its ha.cf directive and how to open it.

    The plugin object must also provide `twisted.plugin.IPlugin`, and live in a module of the
    `hbtwist.plugins` package (a distribution ships `hbtwist/plugins/<module>.py`).
    """

    directive = Attribute("The ha.cf directive this medium owns, e.g. 'bcast'.")
    parser = Attribute(
        "The hbtwist.config.media.MediumParser that reads its ha.cf lines into IMedium objects."
    )

    def check_host(medium: Any) -> None:
        """Raise MediumUnavailable if this host cannot carry `medium` (an IMedium of this kind).

        Called once by `hbctl check` and once by the daemon before any service exists; it must
        not open or bind anything (a running daemon may hold the medium's resources).
        """

    def open(medium: Any, context: MediumContext) -> IMediumLink:
        """Create the link for one configured medium (not yet started)."""
