"""Authenticated datagrams and frames: what goes on UDP media and serial lines (spec sections 1.4, 2)."""

from __future__ import annotations

from collections.abc import Iterable

from hbtwist.wire import classic, netstring
from hbtwist.wire.auth import Keyring
from hbtwist.wire.compress import PAYLOAD, compressed_payload
from hbtwist.wire.errors import AuthenticationFailed, EncodeError, MalformedPacket
from hbtwist.wire.limits import MAXMSG
from hbtwist.wire.message import Field, Message

_MAX_TRAILER_DIGITS = 3


def sign_inner(message: Message, keyring: Keyring) -> Message:
    """Set the inner `auth` field over the classic rendering of the other fields (spec 2.3)."""
    body = classic.classic_body(message, skip_auth=True)
    return message.with_field(classic.AUTH, keyring.sign(body))


def verify_inner(message: Message, keyring: Keyring) -> bool:
    """Whether the inner `auth` field authenticates the message."""
    authstr = message.get(classic.AUTH)
    if not isinstance(authstr, bytes):
        return False
    try:
        body = classic.classic_body(message, skip_auth=True)
    except EncodeError:
        return False
    return keyring.verify(authstr, body)


def trailer(authstr: bytes) -> bytes:
    """The netstring that follows `%%%\n`: `<len>:<index> <token>,`."""
    return b"%d:%s," % (len(authstr), authstr)


class EncodedMessage(Message):
    """A message that carries its datagram, made with it: encoding it again with the same
    keyring hands that datagram out (a message never changes, so neither does its datagram)."""

    __slots__ = ("datagram", "keyring")

    def __init__(self, fields: Iterable[Field], keyring: Keyring, datagram: bytes) -> None:
        super().__init__(fields)
        self.keyring = keyring
        self.datagram = datagram


def encode_datagram(message: Message, keyring: Keyring) -> bytes:
    """A netstring payload plus its authentication trailer, as every UDP medium sends it."""
    if isinstance(message, EncodedMessage) and message.keyring is keyring:
        return message.datagram
    return signed_datagram(netstring.encode_netstring(message), keyring)


def signed_datagram(payload: bytes, keyring: Keyring) -> bytes:
    """A netstring payload with its authentication trailer, refused if too big to send."""
    datagram = payload + trailer(keyring.sign(payload))
    if len(datagram) >= MAXMSG:
        raise EncodeError(f"datagram of {len(datagram)} bytes is too big (limit {MAXMSG - 1})")
    return datagram


def encode_frame(message: Message, keyring: Keyring) -> bytes:
    """Classic text with a fresh inner `auth` field, as the serial medium sends it."""
    frame = classic.encode_classic(sign_inner(message, keyring))
    if len(frame) >= MAXMSG:
        raise EncodeError(f"message of {len(frame)} bytes is too big (limit {MAXMSG - 1})")
    return frame


def authentic_netstring(data: bytes, keyring: Keyring) -> bool:
    """Whether a netstring datagram's trailer authenticates it, read without decoding the
    message: the payload ends at its last `%%%\n` (a trailer holds none)."""
    end = data.rfind(netstring.END) + len(netstring.END)
    if len(data) >= MAXMSG or not data.startswith(netstring.START) or end < 2 * len(netstring.END):
        return False
    try:
        authstr = _peel_trailer(data, end)
    except AuthenticationFailed:
        return False
    return keyring.verify(authstr, data[:end])


def decode_datagram(data: bytes, keyring: Keyring) -> Message:
    """Parse and authenticate a datagram or frame in either format.

    Netstring needs a valid trailer, classic a valid inner `auth` field; bytes after the
    message (a NUL, say) are ignored. A compressed message is expanded. Raises only `WireError`.
    """
    _check_size(data)
    if data.startswith(netstring.START):
        message, end = netstring.decode_netstring(data)
        authstr = _peel_trailer(data, end)
        if not keyring.verify(authstr, data[:end]):
            raise AuthenticationFailed("netstring trailer does not authenticate the message")
    elif data.startswith(classic.START):
        message, _ = classic.decode_classic(data)
        if not verify_inner(message, keyring):
            raise AuthenticationFailed("inner auth field does not authenticate the message")
    else:
        raise MalformedPacket("not a Heartbeat message")
    return _expand(message, data)


def decode_message(data: bytes) -> Message:
    """Parse a message in either format without authentication (local, trusted channels)."""
    _check_size(data)
    if data.startswith(netstring.START):
        message, _ = netstring.decode_netstring(data)
    elif data.startswith(classic.START):
        message, _ = classic.decode_classic(data)
    else:
        raise MalformedPacket("not a Heartbeat message")
    return _expand(message, data)


def _check_size(data: bytes) -> None:
    if len(data) >= MAXMSG:
        raise MalformedPacket(f"datagram of {len(data)} bytes is over the {MAXMSG - 1} limit")


def _peel_trailer(data: bytes, start: int) -> bytes:
    colon = data.find(b":", start, start + _MAX_TRAILER_DIGITS + 1)
    digits = data[start:colon]
    if colon < 0 or not digits.isdigit():
        raise AuthenticationFailed("netstring message has no authentication trailer")
    stop = colon + 1 + int(digits)
    if stop >= len(data) or data[stop] != 0x2C:
        raise AuthenticationFailed("authentication trailer is truncated")
    return data[colon + 1 : stop]


def _expand(message: Message, data: bytes) -> Message:
    """`message` expanded if it wraps a compressed one. A wrapper names its payload field in its
    bytes `data`, so a message whose bytes do not is passed on without a lookup."""
    if PAYLOAD not in data:
        return message
    inner = compressed_payload(message)
    if inner is None:
        return message
    if inner.startswith(netstring.START):
        expanded, _ = netstring.decode_netstring(inner)
    elif inner.startswith(classic.START):
        expanded, _ = classic.decode_classic(inner)
    else:
        raise MalformedPacket("compressed payload is not a Heartbeat message")
    return expanded
