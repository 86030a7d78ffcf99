"""The classic text message format, `>>>\n` ... `<<<\n` (spec section 1.2)."""

from __future__ import annotations

import base64
import binascii

from hbtwist.wire.errors import EncodeError, MalformedPacket
from hbtwist.wire.limits import MAXDEPTH
from hbtwist.wire.memo import rendered_all
from hbtwist.wire.message import Field, FieldType, FieldValue, Message
from hbtwist.wire.names import check_name, is_valid_name
from hbtwist.wire.packedlist import pack_list, unpack_list

START = b">>>\n"
END = b"<<<\n"
_NEWLINE_IN_STRING = b"\x13"
_NEWLINE_AT_DEPTH = bytes([*range(0x14, 0x20), *range(0x0F, 0x13)])
_TYPES = {b"(%d)" % t.value: t for t in FieldType if t is not FieldType.STRING}
AUTH = b"auth"
_RENDERED: dict[Field, bytes] = {}
"""The `name=value` lines of fields sent lately."""


def encode_classic(message: Message, depth: int = 0) -> bytes:
    """Serialize a message as classic text, markers included (no trailing NUL)."""
    return START + classic_body(message, depth) + END


def classic_body(message: Message, depth: int = 0, *, skip_auth: bool = False) -> bytes:
    """The `name=value\n` lines of a message; with `skip_auth`, the input of the inner auth code."""
    if depth >= MAXDEPTH:
        raise EncodeError(f"message nested deeper than {MAXDEPTH}")
    entries = [entry for entry in message if entry.name != AUTH] if skip_auth else message
    return b"".join(rendered_all(_RENDERED, entries, _encode_line, depth))


def string_line(name: bytes, value: bytes) -> bytes:
    """The line of a STRING field whose name is already known to be valid."""
    if b"\0" in value:
        raise EncodeError(f"string field {name!r} contains NUL")
    return b"%s=%s\n" % (name, value.replace(b"\n", _NEWLINE_IN_STRING))


def _encode_line(entry: Field, depth: int) -> bytes:
    check_name(entry.name)
    if entry.type is FieldType.STRING:
        if not isinstance(entry.value, bytes):
            raise EncodeError(f"field {entry.name!r} does not hold bytes")
        return string_line(entry.name, entry.value)
    return b"(%d)%s=%s\n" % (entry.type, entry.name, _encode_value(entry, depth))


def _encode_value(entry: Field, depth: int) -> bytes:
    value = entry.value
    if entry.type is FieldType.STRUCT:
        if not isinstance(value, Message):
            raise EncodeError(f"struct field {entry.name!r} does not hold a message")
        child = encode_classic(value, depth + 1)
        return child.replace(b"\n", _NEWLINE_AT_DEPTH[depth : depth + 1])
    if entry.type is FieldType.LIST:
        if not isinstance(value, tuple):
            raise EncodeError(f"list field {entry.name!r} does not hold a tuple")
        packed = pack_list(value)
        if b"\n" in packed or b"\0" in packed:
            raise EncodeError(f"list field {entry.name!r} holds a newline or NUL")
        return packed
    if not isinstance(value, bytes):
        raise EncodeError(f"field {entry.name!r} does not hold bytes")
    return base64.b64encode(value)


def decode_classic(data: bytes, depth: int = 0) -> tuple[Message, int]:
    """Parse classic text at the start of `data`; return it and the offset just past `<<<\n`.

    A message must end with a `<<<` line: a truncated one is malformed.
    """
    if depth >= MAXDEPTH:
        raise MalformedPacket(f"message nested deeper than {MAXDEPTH}")
    if not data.startswith(START):
        raise MalformedPacket("classic message does not start with >>>")
    nul = data.find(b"\0")
    limit = len(data) if nul < 0 else nul
    position = len(START)
    fields: list[Field] = []
    while position < limit:
        newline = data.find(b"\n", position, limit)
        line_end = limit if newline < 0 else newline
        line = data[position:line_end]
        position = line_end + 1
        if line == b"<<<":
            return Message(fields), min(position, len(data))
        fields.append(_decode_line(line, depth))
    raise MalformedPacket("classic message has no <<< end line")


def _decode_line(line: bytes, depth: int) -> Field:
    equals = line.find(b"=")
    if equals < 1:
        raise MalformedPacket("classic line has no name=value")
    name = line[:equals]
    raw = line[equals + 1 :]
    field_type = _TYPES.get(name[:3], FieldType.STRING)
    if field_type is not FieldType.STRING:
        name = name[3:]
    if not is_valid_name(name):
        raise MalformedPacket("bad field name in classic line")
    return Field(name, field_type, _decode_value(field_type, raw, depth))


def _decode_value(field_type: FieldType, raw: bytes, depth: int) -> FieldValue:
    if field_type is FieldType.STRING:
        return raw.replace(_NEWLINE_IN_STRING, b"\n")
    if field_type is FieldType.LIST:
        return unpack_list(raw)
    if field_type is FieldType.STRUCT:
        child = raw.replace(_NEWLINE_AT_DEPTH[depth : depth + 1], b"\n")
        message, end = decode_classic(child, depth + 1)
        if end != len(child):
            raise MalformedPacket("bytes after a nested message")
        return message
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as error:
        raise MalformedPacket("bad base64 in binary field") from error
