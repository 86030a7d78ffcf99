"""Stamping of outgoing messages with Heartbeat's control fields (spec section 1.7)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hbtwist.wire import FieldType, Keyring, Message, sign_inner

NOSEQUENCE = 0xFFFFFFFF


def is_unsequenced(message_type: bytes | str | None) -> bool:
    """Whether a message type carries no sequence number (the `NS_` types)."""
    if isinstance(message_type, str):
        message_type = message_type.encode("ascii", "replace")
    return message_type is not None and message_type.startswith(b"NS_")


@dataclass
class Identity:
    """Who this node is on the wire."""

    name: str
    uuid: bytes
    generation: int


class Stamper:
    """Adds `destuuid src srcuuid seq hg ts ld ttl [auth]` to messages this node originates."""

    def __init__(
        self,
        identity: Identity,
        keyring: Keyring,
        *,
        ttl: int,
        inner_auth: bool,
        wallclock: Callable[[], float],
        loadavg: Callable[[], str],
    ) -> None:
        """`wallclock` gives the time for `ts`, `loadavg` the host's load average text for `ld`."""
        self.identity = identity
        self.keyring = keyring
        self.ttl = ttl
        self.inner_auth = inner_auth
        self._wallclock = wallclock
        self._loadavg = loadavg
        self.last_seq = 0

    def stamp(self, message: Message, destuuid: bytes | None = None) -> Message:
        """Return `message` with control fields set; sequenced types consume the next `seq`.

        `destuuid` is the UUID of the message's `dest`, when it is known.
        """
        unsequenced = is_unsequenced(message.text("t"))
        if destuuid is not None:
            message = message.with_field("destuuid", destuuid, FieldType.BINARY)
        controls: list[tuple[str, bytes, FieldType]] = [
            ("src", self.identity.name.encode(), FieldType.STRING),
            ("srcuuid", self.identity.uuid, FieldType.BINARY),
        ]
        if not unsequenced:
            self.last_seq += 1
            controls.append(("seq", b"%x" % self.last_seq, FieldType.STRING))
        controls.append(("hg", b"%x" % self.identity.generation, FieldType.STRING))
        controls.append(("ts", b"%x" % max(1, int(self._wallclock())), FieldType.STRING))
        if not unsequenced:
            controls.append(("ld", self._loadavg().encode(), FieldType.STRING))
        controls.append(("ttl", b"%d" % self.ttl, FieldType.STRING))
        for name, value, field_type in controls:
            if not (unsequenced and name in message):
                message = message.with_field(name, value, field_type)
        if self.inner_auth and not _has_nested(message):
            message = sign_inner(message, self.keyring)
        return message


def _has_nested(message: Message) -> bool:
    return any(entry.type in (FieldType.STRUCT, FieldType.COMPRESS) for entry in message)
