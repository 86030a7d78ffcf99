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
        uuid_of: Callable[[str], bytes | None],
    ) -> None:
        self.identity = identity
        self.keyring = keyring
        self.ttl = ttl
        self.inner_auth = inner_auth
        self._wallclock = wallclock
        self._loadavg = loadavg
        self._uuid_of = uuid_of
        self.last_seq = 0

    def stamp(self, message: Message) -> Message:
        """Return `message` with control fields set; sequenced types consume the next `seq`."""
        unsequenced = is_unsequenced(message.text("t"))
        message = self._with_destination(message)
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

    def _with_destination(self, message: Message) -> Message:
        destination = message.text("dest")
        if destination is None:
            return message
        uuid = self._uuid_of(destination)
        if uuid is None:
            return message
        return message.with_field("destuuid", uuid, FieldType.BINARY)


def _has_nested(message: Message) -> bool:
    return any(entry.type in (FieldType.STRUCT, FieldType.COMPRESS) for entry in message)


def read_loadavg(path: str = "/proc/loadavg") -> str:
    """The first line of /proc/loadavg, as Heartbeat sends it in `ld`, or `n/a`."""
    try:
        with open(path, encoding="ascii") as source:
            return source.readline().rstrip("\n") or "n/a"
    except OSError:
        return "n/a"


class CachedLoadavg:
    """The load average read at most once per `period` seconds of `clock`, not per message."""

    def __init__(self, clock: Callable[[], float], period: float = 1.0) -> None:
        self._clock = clock
        self._period = period
        self._read_at = float("-inf")
        self._value = "n/a"

    def __call__(self) -> str:
        now = self._clock()
        if now - self._read_at >= self._period:
            self._value = read_loadavg()
            self._read_at = now
        return self._value
