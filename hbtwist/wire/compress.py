"""Whole-message compression, `_compressed_payload` (spec section 1.5), with bounded expansion."""

from __future__ import annotations

import bz2
import zlib

from hbtwist.wire.errors import EncodeError, MalformedPacket
from hbtwist.wire.limits import MAXUNCOMPRESSED
from hbtwist.wire.message import Field, FieldType, Message

PAYLOAD = b"_compressed_payload"
ALGORITHM = b"_compression_algorithm"
ALGORITHMS = ("zlib", "bz2")


def compress(data: bytes, algorithm: str) -> bytes:
    """Compress as Heartbeat's plugin does: zlib `compress()`, or bzip2 with 100 k blocks."""
    if algorithm == "zlib":
        return zlib.compress(data)
    if algorithm == "bz2":
        return bz2.compress(data, compresslevel=1)
    raise EncodeError(f"unknown compression {algorithm!r}")


def decompress(data: bytes, algorithm: str) -> bytes:
    """Expand compressed bytes, refusing output beyond MAXUNCOMPRESSED or a truncated stream."""
    if algorithm == "zlib":
        inflater = zlib.decompressobj()
        try:
            out = inflater.decompress(data, MAXUNCOMPRESSED + 1)
        except zlib.error as error:
            raise MalformedPacket("bad zlib data") from error
        complete = inflater.eof and not inflater.unconsumed_tail
    elif algorithm == "bz2":
        unpacker = bz2.BZ2Decompressor()
        try:
            out = unpacker.decompress(data, MAXUNCOMPRESSED + 1)
        except (OSError, EOFError) as error:
            raise MalformedPacket("bad bz2 data") from error
        complete = unpacker.eof
    else:
        raise MalformedPacket("unknown compression algorithm")
    if len(out) > MAXUNCOMPRESSED or not complete:
        raise MalformedPacket("compressed payload is truncated or expands too far")
    return out


def wrap(serialized: bytes, algorithm: str) -> Message:
    """The two-field message that carries a whole serialized message compressed."""
    return Message(
        [
            Field(PAYLOAD, FieldType.BINARY, compress(serialized, algorithm)),
            Field(ALGORITHM, FieldType.STRING, algorithm.encode("ascii")),
        ]
    )


def compressed_payload(message: Message) -> bytes | None:
    """The expanded inner bytes if this message wraps a compressed one, else None."""
    if PAYLOAD not in message:
        return None
    payload = message.get(PAYLOAD)
    algorithm = message.text(ALGORITHM)
    if not isinstance(payload, bytes) or algorithm is None:
        raise MalformedPacket("compressed message lacks its payload or algorithm")
    return decompress(payload, algorithm)
