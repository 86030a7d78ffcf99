"""The packed form of a list field, `<len>:<item>,` repeated (spec section 1.2, type 3)."""

from __future__ import annotations

from hbtwist.wire.errors import EncodeError, MalformedPacket
from hbtwist.wire.limits import MAX_LENGTH_DIGITS, MAXLIST


def pack_list(items: tuple[bytes, ...]) -> bytes:
    """Pack list items; refuses a packed list over Heartbeat's MAXLIST bytes."""
    packed = b"".join(b"%d:%s," % (len(item), item) for item in items)
    if len(packed) > MAXLIST:
        raise EncodeError(f"list field packs to {len(packed)} bytes, over {MAXLIST}")
    return packed


def unpack_list(packed: bytes) -> tuple[bytes, ...]:
    """Unpack list items; the whole input must be consumed."""
    if len(packed) > MAXLIST:
        raise MalformedPacket(f"list field of {len(packed)} bytes is over {MAXLIST}")
    items = []
    position = 0
    end = len(packed)
    while position < end:
        colon = packed.find(b":", position, position + MAX_LENGTH_DIGITS + 1)
        digits = packed[position:colon]
        if colon < 0 or not digits.isdigit():
            raise MalformedPacket("bad length in list field")
        stop = colon + 1 + int(digits)
        if stop >= end or packed[stop] != 0x2C:
            raise MalformedPacket("list item overruns its field")
        items.append(packed[colon + 1 : stop])
        position = stop + 1
    return tuple(items)
