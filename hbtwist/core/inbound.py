"""What a received datagram says of its sender, worked out once per distinct byte string.

A node receives most datagrams more than once: every status through every medium and as its
repeated copies, and its own broadcasts echoed back. Decoding and authenticating a datagram is
a pure function of its bytes and the keyring, so `RecentDatagrams` keeps the verdicts on the
newest distinct datagrams and answers a byte-identical one from there. What the message then
does (duplicate, replay, link refresh) is still decided at each arrival by the node's state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from hbtwist.core.fields import parse_decimal, parse_hex
from hbtwist.core.stamp import is_unsequenced
from hbtwist.wire import AuthenticationFailed, Keyring, Message, WireError, decode_datagram
from hbtwist.wire.datagram import authentic_netstring
from hbtwist.wire.names import fold_name
from hbtwist.wire.netstring import START

UUID_BYTES = 16
"""The length of a node UUID (`srcuuid`, `destuuid`)."""
RECENT_DATAGRAMS = 64
"""How many distinct datagrams `RecentDatagrams` remembers: every copy of a status of each of
16 nodes in flight at once, with room to spare."""


class Header(NamedTuple):
    """The control fields of an authentic, well-formed message (a named tuple: immutable, as a
    remembered verdict must be, and quick to make for every message received)."""

    message: Message
    kind: str
    name: str
    """The source node's name, folded (`fold_name`)."""
    raw_name: str
    """The source node's name as sent."""
    generation: int
    seq: int
    """0 for an unsequenced message."""
    unsequenced: bool
    uuid: bytes | None
    """The sender's UUID (`srcuuid`), if sent."""


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a datagram is dropped: `bad_auth` or `malformed`, and the detail."""

    reason: str
    detail: str


@dataclass(frozen=True, slots=True)
class Overheard:
    """An authentic acknowledgement for another node, left undecoded: only its addressee reads
    one, and on shared media (bcast) every node receives every node's."""


OVERHEARD = Overheard()


@dataclass(frozen=True, slots=True)
class Echo:
    """A datagram this node sent, heard back (its broadcast echoed, or a copy): it tells only
    that the link it came through carries this node's packets."""


ECHO = Echo()
Inspection = Header | Rejection | Overheard | Echo
"""What `RecentDatagrams.inspect` makes of a datagram."""
_ACK_START = START + b"14:(0)t=NS_ackmsg,"
"""How an acknowledgement starts, from Heartbeat 3.0.6 and from hbtwist: its type, then `dest`."""
_DEST = b"(0)dest="


def read_header(message: Message) -> Header | Rejection:
    """The control fields of an authenticated message, or why it is malformed."""
    kind = message.text("t")
    name = message.text("src")
    if not kind or not name or not parse_hex(message.text("ts")):
        return Rejection("malformed", "no type, source or timestamp")
    generation = optional_hex(message, "hg")
    unsequenced = is_unsequenced(kind)
    seq = 0 if unsequenced else parse_hex(message.text("seq"))
    if generation is None or (not unsequenced and not seq):
        return Rejection("malformed", "bad sequence or generation number")
    uuid = message.binary("srcuuid")
    if uuid is not None and len(uuid) != UUID_BYTES:
        return Rejection("malformed", "srcuuid is not 16 bytes")
    return Header(message, kind, fold_name(name), name, generation, seq or 0, unsequenced, uuid)


def inspect(data: bytes, keyring: Keyring) -> Header | Rejection:
    """Decode and authenticate one datagram or frame and read its control fields."""
    try:
        message = decode_datagram(data, keyring)
    except AuthenticationFailed as error:
        return Rejection("bad_auth", str(error))
    except WireError as error:
        return Rejection("malformed", str(error))
    return read_header(message)


class RecentDatagrams:
    """`inspect` with the verdicts on the newest `size` distinct datagrams remembered; with
    `local` (the node's folded name), an authentic acknowledgement for another node is
    `OVERHEARD` without being decoded."""

    def __init__(self, keyring: Keyring, size: int = RECENT_DATAGRAMS, local: str | None = None) -> None:
        self._keyring = keyring
        self._size = size
        self._local = local
        self._verdicts: dict[bytes, Inspection] = {}

    def inspect(self, data: bytes) -> Inspection:
        """The verdict on `data`: remembered if the same bytes arrived lately, else worked out."""
        verdict = self._verdicts.get(data)
        if verdict is None:
            if self._overheard(data):
                verdict = OVERHEARD
            else:
                verdict = inspect(data, self._keyring)
            self.remember(data, verdict)
        return verdict

    def _overheard(self, data: bytes) -> bool:
        if self._local is None or not data.startswith(_ACK_START):
            return False
        addressee = _first_string(data, len(_ACK_START), _DEST)
        if addressee is None or fold_name(addressee.decode("utf-8", "surrogateescape")) == self._local:
            return False
        return authentic_netstring(data, self._keyring)

    def remember(self, data: bytes, verdict: Inspection) -> None:
        """Take `verdict` as the one on `data` (a datagram this node itself encoded)."""
        verdicts = self._verdicts
        verdicts[data] = verdict
        if len(verdicts) > self._size:
            del verdicts[next(iter(verdicts))]


def _first_string(data: bytes, start: int, prefix: bytes) -> bytes | None:
    """The value of the netstring element at `start` if it begins with `prefix` (a STRING
    field's `(0)name=`), else None."""
    colon = data.find(b":", start, start + 5)
    digits = data[start:colon]
    if colon < 0 or not digits.isdigit():
        return None
    stop = colon + 1 + int(digits)
    if stop >= len(data) or data[stop] != 0x2C or not data.startswith(prefix, colon + 1):
        return None
    return data[colon + 1 + len(prefix) : stop]


def optional_decimal(message: Message, name: str) -> int | None:
    """A decimal field's value, 0 when absent, None when present but not a number."""
    text = message.text(name)
    return 0 if text is None else parse_decimal(text)


def optional_hex(message: Message, name: str) -> int | None:
    """A hex field's value, 0 when absent, None when present but not a number."""
    text = message.text(name)
    return 0 if text is None else parse_hex(text)
