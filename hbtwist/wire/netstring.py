"""The netstring message format, `###\n` ... `%%%\n` (spec section 1.3)."""

from __future__ import annotations

from hbtwist.wire.errors import EncodeError, MalformedPacket
from hbtwist.wire.limits import MAX_LENGTH_DIGITS, MAXDEPTH
from hbtwist.wire.memo import keep, rendered_all
from hbtwist.wire.message import Field, FieldType, FieldValue, Message
from hbtwist.wire.names import check_name, is_valid_name
from hbtwist.wire.packedlist import pack_list, unpack_list
from hbtwist.wire.runs import LeadingRuns

START = b"###\n"
END = b"%%%\n"
_COMMA = 0x2C
_TYPES = {0x30 + t.value: t for t in FieldType}
_RENDERED: dict[Field, bytes] = {}
"""The elements (`len:(t)name=value,`) of fields sent lately."""
_PARSED: dict[bytes, Field] = {}
"""The fields of elements received lately (nested messages excepted)."""
_RUNS = LeadingRuns(START)
"""The leading runs of messages received lately (`hbtwist.wire.runs`)."""


def encode_netstring(message: Message, depth: int = 0) -> bytes:
    """Serialize a message as a netstring payload (no authentication trailer)."""
    if depth >= MAXDEPTH:
        raise EncodeError(f"message nested deeper than {MAXDEPTH}")
    return START + b"".join(rendered_all(_RENDERED, message, _encode_element, depth)) + END


def string_element(name: bytes, value: bytes) -> bytes:
    """The element of a STRING field whose name is already known to be valid."""
    if b"\0" in value:
        raise EncodeError(f"string field {name!r} contains NUL")
    item = b"(0)%s=%s" % (name, value)
    return b"%d:%s," % (len(item), item)


def _encode_element(entry: Field, depth: int) -> bytes:
    check_name(entry.name)
    if entry.type is FieldType.STRING:
        if not isinstance(entry.value, bytes):
            raise EncodeError(f"field {entry.name!r} does not hold bytes")
        return string_element(entry.name, entry.value)
    item = b"(%d)%s=%s" % (entry.type, entry.name, _encode_value(entry, depth))
    return b"%d:%s," % (len(item), item)


def _encode_value(entry: Field, depth: int) -> bytes:
    value = entry.value
    if entry.type is FieldType.STRUCT:
        if not isinstance(value, Message):
            raise EncodeError(f"struct field {entry.name!r} does not hold a message")
        return encode_netstring(value, depth + 1)
    if entry.type is FieldType.LIST:
        if not isinstance(value, tuple):
            raise EncodeError(f"list field {entry.name!r} does not hold a tuple")
        return pack_list(value)
    if not isinstance(value, bytes):
        raise EncodeError(f"field {entry.name!r} does not hold bytes")
    return value


def decode_netstring(data: bytes, start: int = 0, depth: int = 0) -> tuple[Message, int]:
    """Parse a netstring payload beginning at `start`; return it and the offset just past `%%%\n`."""
    if depth >= MAXDEPTH:
        raise MalformedPacket(f"message nested deeper than {MAXDEPTH}")
    if not data.startswith(START, start):
        raise MalformedPacket("netstring message does not start with ###")
    fields, position = _RUNS.take(data, start)
    taken: int | None = position  # where parsing began, until an element is not remembered
    size = len(data)
    known = _PARSED.get
    while not data.startswith(END, position):
        colon = data.find(b":", position, position + MAX_LENGTH_DIGITS + 1)
        digits = data[position:colon]
        if colon < 0 or not digits.isdigit():
            raise MalformedPacket("bad element length in netstring message")
        stop = colon + 1 + int(digits)
        if stop >= size or data[stop] != _COMMA:
            raise MalformedPacket("netstring element overruns the message")
        element = data[colon + 1 : stop]
        entry = known(element)
        if entry is None:
            if taken is not None:
                if position != taken:
                    _RUNS.met(data, start, position, fields)
                taken = None
            entry = _decode_element(element, depth)
            if entry.type is not FieldType.STRUCT:
                keep(_PARSED, element, entry)
        fields.append(entry)
        position = stop + 1
    return Message(fields), position + len(END)


def _decode_element(element: bytes, depth: int) -> Field:
    if len(element) < 5 or element[0] != 0x28 or element[2] != 0x29:
        raise MalformedPacket("netstring element lacks its (type) prefix")
    field_type = _TYPES.get(element[1])
    if field_type is None:
        raise MalformedPacket("unknown field type in netstring element")
    equals = element.find(b"=", 3)
    if equals < 0:
        raise MalformedPacket("netstring element has no '='")
    name = element[3:equals]
    if not is_valid_name(name):
        raise MalformedPacket("bad field name in netstring element")
    raw = element[equals + 1 :]
    value: FieldValue
    if field_type is FieldType.STRUCT:
        value, end = decode_netstring(raw, 0, depth + 1)
        if end != len(raw):
            raise MalformedPacket("bytes after a nested message")
    elif field_type is FieldType.LIST:
        value = unpack_list(raw)
    else:
        if field_type is FieldType.STRING and b"\0" in raw:
            raise MalformedPacket("string field contains NUL")
        value = raw
    return Field(name, field_type, value)
