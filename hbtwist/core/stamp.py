"""Stamping of outgoing messages with Heartbeat's control fields (spec section 1.7)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hbtwist.wire import Field, FieldType, Keyring, Message, sign_inner

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
        identity = self.identity
        controls = [
            Field(b"src", FieldType.STRING, identity.name.encode()),
            Field(b"srcuuid", FieldType.BINARY, identity.uuid),
        ]
        if not unsequenced:
            self.last_seq += 1
            controls.append(Field(b"seq", FieldType.STRING, b"%x" % self.last_seq))
        controls.append(Field(b"hg", FieldType.STRING, b"%x" % identity.generation))
        controls.append(Field(b"ts", FieldType.STRING, b"%x" % max(1, int(self._wallclock()))))
        if not unsequenced:
            controls.append(Field(b"ld", FieldType.STRING, self._loadavg().encode()))
        controls.append(Field(b"ttl", FieldType.STRING, b"%d" % self.ttl))
        if unsequenced:
            controls = [entry for entry in controls if entry.name not in message]
        if destuuid is not None:
            controls.insert(0, Field(b"destuuid", FieldType.BINARY, destuuid))
        message = message.with_fields(controls)
        if self.inner_auth and not _has_nested(message):
            message = sign_inner(message, self.keyring)
        return message


def _has_nested(message: Message) -> bool:
    return any(entry.type in (FieldType.STRUCT, FieldType.COMPRESS) for entry in message)
