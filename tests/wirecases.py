"""Shared material for the wire-codec tests: captured vectors, spec examples, reference encoders.

The reference encoders here are written from the spec (sections 1.2, 1.3, 2.2) independently of
`hbtwist.wire`, so tests can compare the codec against a second implementation.
"""

from __future__ import annotations

import base64
import json
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hbtwist.wire import (
    AuthKey,
    AuthMethod,
    FieldType,
    Keyring,
    Message,
    WireError,
)

FIXTURES = Path(__file__).parent / "fixtures" / "heartbeat-3.0.6"

# --------------------------------------------------------------------------------------------
# Keyrings

VECTOR_KEY = b"anchor-sha1-key-2024"
"""The key of the captured vectors (README.md: `auth 1` / `1 sha1 anchor-sha1-key-2024`)."""


def keyring(method: AuthMethod, secret: bytes = b"", index: int = 1) -> Keyring:
    """A keyring holding one key, which is also the sending key."""
    return Keyring(index, {index: AuthKey(index, method, secret)})


VECTOR_RING = keyring(AuthMethod.SHA1, VECTOR_KEY)
HELLO_SHA1 = keyring(AuthMethod.SHA1, b"Hello!", 1)
"""Spec sections 1.8, 2.5 and 5.5: `auth 1` / `1 sha1 Hello!`."""
HELLO_MD5 = keyring(AuthMethod.MD5, b"Hello!", 3)
"""Spec section 2.5: `auth 3` / `3 md5 Hello!`."""
CRC_RING = keyring(AuthMethod.CRC, b"", 1)
"""Spec section 2.5: `auth 1` / `1 crc`."""

# --------------------------------------------------------------------------------------------
# Captured vectors


@dataclass(frozen=True)
class Vector:
    """One captured packet: where it came from (`file:line`), its file's type and its bytes."""

    ident: str
    type: str
    data: bytes


def load_vectors() -> list[Vector]:
    """Every UDP payload of every `*.jsonl` fixture file, in file and line order."""
    vectors = []
    for path in sorted(FIXTURES.glob("*.jsonl")):
        lines = path.read_text().splitlines()
        for number, line in enumerate(lines, 1):
            row = json.loads(line)
            vectors.append(Vector(f"{path.name}:{number}", row["type"], bytes.fromhex(row["hex"])))
    return vectors


def load_serial_frames() -> list[Vector]:
    """The classic frames of serial-classic.txt: from a `>>>` line to a `<<<` line, each `\\n`-ended."""
    frames = []
    current: list[bytes] | None = None
    start = 0
    text = (FIXTURES / "serial-classic.txt").read_bytes()
    for number, line in enumerate(text.split(b"\n"), 1):
        if line.startswith(b">>>"):
            current, start = [line], number
        elif current is not None:
            current.append(line)
            if line.startswith(b"<<<"):
                frames.append(Vector(f"serial-classic.txt:{start}", "", b"\n".join(current) + b"\n"))
                current = None
    return frames


VECTORS = load_vectors()
SERIAL_FRAMES = load_serial_frames()

# --------------------------------------------------------------------------------------------
# Spec examples (literal bytes copied from the spec)

NODE1_UUID = uuid.UUID("5f3c7b1e-9a2d-4c6b-8e0f-112233445566").bytes
NODE2_UUID = bytes.fromhex("0123456789abcdef0123456789abcdef")

SPEC_STATUS = (
    b"###\n"
    b"11:(0)t=status,"
    b"12:(0)st=active,"
    b"10:(0)dt=7530,"
    b"13:(0)protocol=1,"
    b"12:(0)src=node1,"
    b'27:(1)srcuuid=_<{\x1e\x9a-Lk\x8e\x0f\x11"3DUf,'
    b"9:(0)seq=2a,"
    b"7:(0)hg=5,"
    b"14:(0)ts=6581e3c0,"
    b"31:(0)ld=0.08 0.03 0.01 1/213 1234,"
    b"8:(0)ttl=3,"
    b"50:(0)auth=1 048f1a400d8b9389c28c55bbd146cffed579f830,"
    b"%%%\n"
    b"42:1 a47e2957fc90c36cab63700b65ea32a095e0e121,"
)
"""Spec 1.8: the 303-byte status datagram (key `1 sha1 Hello!`)."""

SPEC_STATUS_PAYLOAD_LEN = 257
"""Spec 1.8: bytes 0-256 are the payload covered by the trailer."""

SPEC_STATUS_INNER_D = (
    b"t=status\nst=active\ndt=7530\nprotocol=1\nsrc=node1\n(1)srcuuid=Xzx7HpotTGuODxEiM0RVZg==\n"
    b"seq=2a\nhg=5\nts=6581e3c0\nld=0.08 0.03 0.01 1/213 1234\nttl=3\n"
)
"""Spec 2.5 step 2: the 143-byte input of the inner auth code."""

SPEC_REXMIT = (
    b"###\n14:(0)t=NS_rexmit,13:(0)dest=node1,14:(0)firstseq=42,13:(0)lastseq=42,"
    b'28:(1)destuuid=_<{\x1e\x9a-Lk\x8e\x0f\x11"3DUf,12:(0)src=node2,'
    b"27:(1)srcuuid=\x01#Eg\x89\xab\xcd\xef\x01#Eg\x89\xab\xcd\xef,7:(0)hg=9,14:(0)ts=6581e3c1,"
    b"8:(0)ttl=3,50:(0)auth=1 49430313b39d1c350f2b6fad709fb76f6e1fe1de,%%%\n"
    b"42:1 213f48eec8b5a3289d6bd6f5a1d1079ca66476cf,"
)
"""Spec 5.5: node2 asks node1 to retransmit seq 42."""

SPEC_ACKMSG = (
    b"###\n14:(0)t=NS_ackmsg,13:(0)dest=node1,12:(0)ackseq=2a,"
    b'28:(1)destuuid=_<{\x1e\x9a-Lk\x8e\x0f\x11"3DUf,12:(0)src=node2,'
    b"27:(1)srcuuid=\x01#Eg\x89\xab\xcd\xef\x01#Eg\x89\xab\xcd\xef,7:(0)hg=9,14:(0)ts=6581e3c1,"
    b"8:(0)ttl=3,50:(0)auth=1 f767bdf527078730d5985654dd2f06682b9c2f5c,%%%\n"
    b"42:1 4d97d121e161e9defc2268f5e28f673fa7427c1a,"
)
"""Spec 5.5: node2 acknowledges node1's seq 0x2a."""

SPEC_CLASSIC_EXAMPLE = (
    b">>>\nt=demo\nmulti=line1\x13line2\n(3)lst=3:abc,4:defg,\n"
    b"(2)child=>>>\x14a=1\x14b=x\x13y\x14<<<\x14\n<<<\n"
)
"""Spec 1.2: classic text with a multi-line string, a list and a nested struct."""

SPEC_NETSTRING_EXAMPLE = (
    b"###\n9:(0)t=demo,20:(0)multi=line1\nline2,20:(3)lst=3:abc,4:defg,,"
    b"37:(2)child=###\n6:(0)a=1,8:(0)b=x\ny,%%%\n,%%%\n"
)
"""Spec 1.3: the same message as SPEC_CLASSIC_EXAMPLE in netstring form."""


def spec_demo_message() -> Message:
    """The message of the spec 1.2 / 1.3 examples."""
    return Message.of(
        ("t", "demo"),
        ("multi", "line1\nline2"),
        ("lst", (b"abc", b"defg")),
        ("child", Message.of(("a", "1"), ("b", "x\ny"))),
    )


def spec_status_message() -> Message:
    """Spec 2.5 step 1: the status message of 1.8 before its inner `auth` field."""
    message = Message.of(
        ("t", "status"), ("st", "active"), ("dt", "7530"), ("protocol", "1"), ("src", "node1")
    )
    message = message.with_field("srcuuid", NODE1_UUID, FieldType.BINARY)
    for name, value in [
        ("seq", "2a"),
        ("hg", "5"),
        ("ts", "6581e3c0"),
        ("ld", "0.08 0.03 0.01 1/213 1234"),
        ("ttl", "3"),
    ]:
        message = message.with_field(name, value)
    return message


def node2_message(*head: tuple[str, str]) -> Message:
    """A spec 5.5 message from node2 to node1: the type fields, then the NS_ control fields."""
    message = Message.of(*head).with_field("destuuid", NODE1_UUID, FieldType.BINARY)
    message = message.with_field("src", "node2").with_field("srcuuid", NODE2_UUID, FieldType.BINARY)
    for name, value in [("hg", "9"), ("ts", "6581e3c1"), ("ttl", "3")]:
        message = message.with_field(name, value)
    return message


SPEC_DATAGRAMS: list[tuple[str, bytes, Keyring]] = [
    ("spec-1.8-status", SPEC_STATUS, HELLO_SHA1),
    ("spec-5.5-rexmit", SPEC_REXMIT, HELLO_SHA1),
    ("spec-5.5-ackmsg", SPEC_ACKMSG, HELLO_SHA1),
]

# --------------------------------------------------------------------------------------------
# Reference implementations written from the spec, independent of hbtwist.wire


def ref_crc32(data: bytes) -> int:
    """Spec 2.2 `crc`: bit-by-bit CRC-32, poly 0x04C11DB7, MSB first, init 0, final XOR, no length."""
    crc = 0
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc ^ 0xFFFFFFFF


def _packed(items: tuple[bytes, ...]) -> bytes:
    return b"".join(b"%d:%s," % (len(item), item) for item in items)


def ref_netstring(message: Message) -> bytes:
    """Spec 1.3: the netstring payload of a message (no trailer, no limits checked)."""
    out = b"###\n"
    for field in message:
        if field.type is FieldType.STRUCT:
            value = ref_netstring(field.value)  # type: ignore[arg-type]
        elif field.type is FieldType.LIST:
            value = _packed(field.value)  # type: ignore[arg-type]
        else:
            value = field.value  # type: ignore[assignment]
        item = b"(%d)%s=%s" % (field.type, field.name, value)
        out += b"%d:%s," % (len(item), item)
    return out + b"%%%\n"


_CLASSIC_NEWLINES = bytes([*range(0x14, 0x20), *range(0x0F, 0x13)])
"""Spec 1.2: the byte that replaces `\\n` inside a struct value, by depth 0..15."""


def ref_classic(message: Message, depth: int = 0) -> bytes:
    """Spec 1.2: the classic text of a message, markers included (no limits checked)."""
    out = b">>>\n"
    for field in message:
        if field.type is FieldType.STRING:
            out += b"%s=%s\n" % (field.name, field.value.replace(b"\n", b"\x13"))  # type: ignore[union-attr]
            continue
        if field.type is FieldType.STRUCT:
            child = ref_classic(field.value, depth + 1)  # type: ignore[arg-type]
            value = child.replace(b"\n", _CLASSIC_NEWLINES[depth : depth + 1])
        elif field.type is FieldType.LIST:
            value = _packed(field.value)  # type: ignore[arg-type]
        else:
            value = base64.b64encode(field.value)  # type: ignore[arg-type]
        out += b"(%d)%s=%s\n" % (field.type, field.name, value)
    return out + b"<<<\n"


def nested(levels: int) -> Message:
    """A chain of `levels` messages (the outermost counts as one), each holding the next."""
    message = Message.of(("leaf", "x"))
    for _ in range(levels - 1):
        message = Message.of(("t", "n"), ("child", message))
    return message


# --------------------------------------------------------------------------------------------
# Running decoders and mutating packets

ACCEPTED = "accepted"


def outcome(decode: Callable[[bytes], Message], data: bytes) -> tuple[str, Message | None]:
    """Decode `data`; return (ACCEPTED, message) or (error class name, None).

    Any exception that is not a WireError is turned into an AssertionError naming the input.
    """
    try:
        message = decode(data)
    except WireError as error:
        return type(error).__name__, None
    except Exception as error:  # anything else is a codec bug: report the input
        raise AssertionError(f"{type(error).__name__} ({error}) on input {data!r}") from error
    assert isinstance(message, Message), f"decoder returned {message!r} for {data!r}"
    return ACCEPTED, message


def payload_end(datagram: bytes) -> int:
    """Offset just past `%%%\\n` of a top-level netstring datagram (its trailer starts here)."""
    return datagram.rindex(b"%%%\n") + 4


def _flip(rng: random.Random, data: bytes) -> bytes:
    if not data:
        return data
    position = rng.randrange(len(data))
    out = bytearray(data)
    out[position] ^= 1 << rng.randrange(8)
    return bytes(out)


def _replace(rng: random.Random, data: bytes) -> bytes:
    if not data:
        return data
    position = rng.randrange(len(data))
    interesting = b"0123456789:,()=#%\n\x00\x13\x14<>"
    byte = rng.choice(interesting) if rng.random() < 0.5 else rng.randrange(256)
    return data[:position] + bytes([byte]) + data[position + 1 :]


def _insert(rng: random.Random, data: bytes) -> bytes:
    position = rng.randrange(len(data) + 1)
    chunk = bytes(rng.randrange(256) for _ in range(rng.randint(1, 4)))
    if rng.random() < 0.5:
        chunk = rng.choice([b"0", b"9", b",", b":", b"(0)", b"%%%\n", b"###\n", b"\n", b"=", b"1:"])
    return data[:position] + chunk + data[position:]


def _delete(rng: random.Random, data: bytes) -> bytes:
    if not data:
        return data
    start = rng.randrange(len(data))
    return data[:start] + data[start + rng.randint(1, 8) :]


def _duplicate(rng: random.Random, data: bytes) -> bytes:
    if not data:
        return data
    start = rng.randrange(len(data))
    stop = min(len(data), start + rng.randint(1, 40))
    at = rng.randrange(len(data) + 1)
    return data[:at] + data[start:stop] + data[at:]


def _truncate(rng: random.Random, data: bytes) -> bytes:
    return data[: rng.randrange(len(data) + 1)]


def _splice(rng: random.Random, data: bytes, other: bytes) -> bytes:
    return data[: rng.randrange(len(data) + 1)] + other[rng.randrange(len(other) + 1) :]


def _length_digits(rng: random.Random, data: bytes) -> bytes:
    """Change the digits of one `<len>:` prefix (element, list item or trailer)."""
    starts = [
        i for i in range(len(data)) if data[i : i + 1].isdigit() and (i == 0 or data[i - 1] in b",\n=")
    ]
    if not starts:
        return _replace(rng, data)
    start = rng.choice(starts)
    stop = start
    while stop < len(data) and data[stop : stop + 1].isdigit():
        stop += 1
    number = int(data[start:stop])
    new = rng.choice([number + 1, number - 1, number * 10, 0, rng.randrange(10**7), number + 4096])
    text = b"0%d" % new if rng.random() < 0.1 else b"%d" % max(new, 0)
    return data[:start] + text + data[stop:]


def _swap_trailer(rng: random.Random, data: bytes, other: bytes) -> bytes:
    if b"%%%\n" not in data or b"%%%\n" not in other:
        return _splice(rng, data, other)
    return data[: payload_end(data)] + other[payload_end(other) :]


MUTATIONS = (
    "flip",
    "replace",
    "insert",
    "delete",
    "duplicate",
    "truncate",
    "splice",
    "digits",
    "trailer",
)


def mutate(rng: random.Random, data: bytes, other: bytes, kind: str | None = None) -> bytes:
    """One random mutation of `data` (`other` is a second packet for splicing/trailer swaps)."""
    kind = kind or rng.choice(MUTATIONS)
    if kind == "flip":
        return _flip(rng, data)
    if kind == "replace":
        return _replace(rng, data)
    if kind == "insert":
        return _insert(rng, data)
    if kind == "delete":
        return _delete(rng, data)
    if kind == "duplicate":
        return _duplicate(rng, data)
    if kind == "truncate":
        return _truncate(rng, data)
    if kind == "splice":
        return _splice(rng, data, other)
    if kind == "digits":
        return _length_digits(rng, data)
    if kind == "trailer":
        return _swap_trailer(rng, data, other)
    raise ValueError(kind)
