"""The Heartbeat 3.0.6 wire codec: pure functions from messages to bytes and back."""

from hbtwist.wire.auth import AuthKey, AuthMethod, Keyring
from hbtwist.wire.classic import classic_body, decode_classic, encode_classic
from hbtwist.wire.datagram import (
    decode_datagram,
    decode_message,
    encode_datagram,
    encode_frame,
    sign_inner,
    verify_inner,
)
from hbtwist.wire.errors import AuthenticationFailed, EncodeError, MalformedPacket, WireError
from hbtwist.wire.message import Field, FieldType, Message
from hbtwist.wire.netstring import decode_netstring, encode_netstring

__all__ = [
    "AuthKey",
    "AuthMethod",
    "AuthenticationFailed",
    "EncodeError",
    "Field",
    "FieldType",
    "Keyring",
    "MalformedPacket",
    "Message",
    "WireError",
    "classic_body",
    "decode_classic",
    "decode_datagram",
    "decode_message",
    "decode_netstring",
    "encode_classic",
    "encode_datagram",
    "encode_frame",
    "encode_netstring",
    "sign_inner",
    "verify_inner",
]
