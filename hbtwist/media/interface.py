"""The interfaces a medium plugin provides, and what the daemon hands to it."""

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


class IMediumLink(Interface):
    """One open medium: it sends every outgoing message and delivers what it receives."""

    name = Attribute("The link name reported for this medium (an interface or a device path).")

    def start() -> None:
        """Open the medium; failures to open are reported by raising MediumUnavailable."""

    def stop() -> Deferred[None] | None:
        """Close the medium."""

    def send(outgoing: Outgoing) -> None:
        """Send one message; never raises (errors are counted and logged)."""


class IMediumType(Interface):
    """A kind of medium, found as a Twisted plugin: its ha.cf directive and how to open it."""

    directive = Attribute("The ha.cf directive this medium owns, e.g. 'bcast'.")
    parser = Attribute("The MediumParser that reads its ha.cf lines into a medium object.")

    def check_host(medium: Any) -> None:
        """Raise MediumUnavailable if this host cannot carry the medium (checked at every start)."""

    def open(medium: Any, context: MediumContext) -> IMediumLink:
        """Create the link for one configured medium (not yet started)."""
