"""Forged, damaged and hostile input is rejected with the right WireError subclass (spec 1.6, 2, 11)."""

from __future__ import annotations

import bz2
import time
import zlib

import pytest

from hbtwist.wire import (
    AuthenticationFailed,
    AuthMethod,
    EncodeError,
    Field,
    FieldType,
    MalformedPacket,
    Message,
    WireError,
    decode_classic,
    decode_datagram,
    decode_message,
    decode_netstring,
    encode_classic,
    encode_datagram,
    encode_frame,
    encode_netstring,
    sign_inner,
    verify_inner,
)
from hbtwist.wire.compress import compressed_payload, decompress, wrap
from hbtwist.wire.limits import MAXLIST, MAXMSG, MAXUNCOMPRESSED
from tests.wirecases import (
    ACCEPTED,
    HELLO_SHA1,
    SERIAL_FRAMES,
    SPEC_DATAGRAMS,
    SPEC_STATUS,
    VECTOR_RING,
    VECTORS,
    keyring,
    nested,
    outcome,
    payload_end,
    ref_classic,
    ref_netstring,
    spec_status_message,
)

# Every captured packet and spec datagram; one packet of each type; every serial frame.
ALL = [(v.ident, v.data, VECTOR_RING) for v in VECTORS] + SPEC_DATAGRAMS
SAMPLES = [next(d for d in ALL if d[0].startswith(t + ".")) for t in sorted({v.type for v in VECTORS})]
FRAMES = [(f.ident, f.data, VECTOR_RING) for f in SERIAL_FRAMES]


def cases(packets):
    """Parametrize over (data, ring) with the packet's `file:line` as its test id."""
    return pytest.mark.parametrize(
        ("data", "ring"), [p[1:] for p in packets], ids=[p[0] for p in packets]
    )


by_datagram = cases(ALL)
by_sample = cases(SAMPLES + SPEC_DATAGRAMS)
by_frame = cases(FRAMES)
AFTER_TRAILER = b"\x00\n junk"
"""Bytes a sender might leave after the trailer; the spec says receivers ignore them."""


def reject(data: bytes, ring=HELLO_SHA1) -> type[WireError]:
    """The WireError subclass decode_datagram raises for `data` (fails if it accepts)."""
    with pytest.raises(WireError) as caught:
        decode_datagram(data, ring)
    return type(caught.value)


# --------------------------------------------------------------------------------------------
# Forgeries (spec 2.5 "additionally verified")


def test_wrong_key_is_rejected():
    """The spec status packet does not verify with a different sha1 key of the same index."""
    assert reject(SPEC_STATUS, keyring(AuthMethod.SHA1, b"Hello?")) is AuthenticationFailed
    assert reject(SPEC_STATUS, keyring(AuthMethod.MD5, b"Hello!")) is AuthenticationFailed
    assert reject(SPEC_STATUS, keyring(AuthMethod.CRC)) is AuthenticationFailed


def test_changed_value_with_old_trailer_is_rejected():
    """`st=active` -> `st=ACTIVE` keeps the framing valid but breaks the trailer (spec 2.5)."""
    forged = SPEC_STATUS.replace(b"st=active", b"st=ACTIVE")
    assert len(forged) == len(SPEC_STATUS) and forged != SPEC_STATUS
    assert decode_message(forged).text("st") == "ACTIVE"
    assert reject(forged) is AuthenticationFailed


def test_stripped_trailer_is_rejected():
    """The payload alone (no trailer) is well-formed but not authenticated."""
    payload = SPEC_STATUS[: payload_end(SPEC_STATUS)]
    assert decode_message(payload) == decode_datagram(SPEC_STATUS, HELLO_SHA1)
    assert reject(payload) is AuthenticationFailed


def test_trailer_token_case_matters():
    """An upper-cased trailer token is rejected (Heartbeat compares with strcmp)."""
    end = payload_end(SPEC_STATUS)
    forged = SPEC_STATUS[:end] + SPEC_STATUS[end:].upper()
    assert reject(forged) is AuthenticationFailed


def test_swapped_trailer_is_rejected():
    """A valid trailer of another packet does not authenticate this payload."""
    _, rexmit, _ = SPEC_DATAGRAMS[1]
    forged = SPEC_STATUS[: payload_end(SPEC_STATUS)] + rexmit[payload_end(rexmit) :]
    assert reject(forged) is AuthenticationFailed


def test_netstring_inner_auth_is_not_checked():
    """A netstring datagram with a valid trailer is accepted even with a wrong inner auth (spec 1.4)."""
    message = spec_status_message().with_field("auth", "1 0000")
    datagram = encode_datagram(message, HELLO_SHA1)
    assert decode_datagram(datagram, HELLO_SHA1) == message
    assert not verify_inner(message, HELLO_SHA1)


def test_changed_classic_frame_is_rejected():
    """A classic frame with a changed value and the old inner auth field is rejected."""
    frame = encode_frame(spec_status_message(), HELLO_SHA1)
    forged = frame.replace(b"st=active", b"st=ACTIVE")
    assert decode_message(forged).text("st") == "ACTIVE"
    assert reject(forged) is AuthenticationFailed


def test_classic_frame_without_auth_is_rejected():
    """A well-formed classic frame without an `auth` field is not authenticated."""
    frame = encode_classic(spec_status_message())
    assert decode_message(frame) == spec_status_message()
    assert reject(frame) is AuthenticationFailed


@pytest.mark.parametrize("authstr", [b"", b"1", b"1 ", b" 1 abc", b"x abc", b"123 abc", b"-1 abc"])
def test_malformed_inner_auth_is_rejected(authstr):
    """A classic frame whose auth field is not `<index> <token>` is rejected."""
    frame = encode_classic(spec_status_message().with_field("auth", authstr))
    assert reject(frame) is AuthenticationFailed


def test_key_index_not_configured():
    """A datagram or frame signed with key index 2 is rejected by a ring holding only index 1."""
    ring2 = keyring(AuthMethod.SHA1, b"Hello!", 2)
    datagram = encode_datagram(sign_inner(spec_status_message(), ring2), ring2)
    assert decode_datagram(datagram, ring2).text("st") == "active"
    assert reject(datagram, HELLO_SHA1) is AuthenticationFailed
    frame = encode_frame(spec_status_message(), ring2)
    assert decode_datagram(frame, ring2).text("st") == "active"
    assert reject(frame, HELLO_SHA1) is AuthenticationFailed


@pytest.mark.parametrize("index", [b"16", b"99", b"999"])
def test_key_index_out_of_range(index):
    """A trailer naming key 16 or above (MAXAUTH is 16) is rejected."""
    end = payload_end(SPEC_STATUS)
    authstr = index + SPEC_STATUS[end + 4 : -1]
    forged = SPEC_STATUS[:end] + b"%d:%s," % (len(authstr), authstr)
    assert reject(forged) is AuthenticationFailed


# --------------------------------------------------------------------------------------------
# Truncation and bit flips of real packets


@by_datagram
def test_every_truncation_of_a_datagram_is_rejected(data, ring):
    """Every proper prefix raises: MalformedPacket inside the payload, AuthenticationFailed after it."""
    end = payload_end(data)
    for length in range(len(data)):
        with pytest.raises(WireError) as caught:
            decode_datagram(data[:length], ring)
        expected = MalformedPacket if length < end else AuthenticationFailed
        assert type(caught.value) is expected, (length, caught.value)


@by_frame
def test_every_truncation_of_a_frame_is_rejected(data, ring):
    """Every proper prefix of a classic frame is rejected, but the one lacking just its last newline."""
    original = decode_datagram(data, ring)
    for length in range(len(data)):
        result, message = outcome(lambda d: decode_datagram(d, ring), data[:length])
        if length == len(data) - 1 and result == ACCEPTED:
            assert message == original  # only the final newline of `<<<\n` is missing
        else:
            assert result != ACCEPTED, length


def flips(data: bytes):
    """Every single-bit flip of `data`, with the flipped position."""
    for position in range(len(data)):
        for bit in range(8):
            flipped = bytearray(data)
            flipped[position] ^= 1 << bit
            yield position, bytes(flipped)


@by_sample
def test_no_bit_flip_in_payload_or_trailer_is_accepted(data, ring):
    """Each single-bit flip is rejected unless it lies after the trailer (where it is ignored)."""
    original = decode_datagram(data, ring)
    padded = data + AFTER_TRAILER
    end = payload_end(data)
    accepted_after = 0
    for position, flipped in flips(padded):
        result, message = outcome(lambda d: decode_datagram(d, ring), flipped)
        if position < len(data):
            assert result != ACCEPTED, f"flip at {position} accepted"
            if position >= end:
                assert result == "AuthenticationFailed", position
        else:
            assert result == ACCEPTED and message == original
            accepted_after += 1
    assert accepted_after == 8 * len(AFTER_TRAILER)


def harmless_frame_positions(frame: bytes) -> set[int]:
    """Where a classic frame's bits may flip without changing it: the final newline, and the last
    base64 digit before `==` padding, whose 4 low bits carry no data."""
    positions = {len(frame) - 1}
    position = frame.find(b"==\n")
    while position >= 0:
        positions.add(position - 1)
        position = frame.find(b"==\n", position + 1)
    return positions


@by_frame
def test_no_bit_flip_of_a_frame_changes_its_message(data, ring):
    """Each single-bit flip of a classic frame is rejected, or is harmless and decodes identically."""
    original = decode_datagram(data, ring)
    harmless = harmless_frame_positions(data)
    for position, flipped in flips(data):
        result, message = outcome(lambda d: decode_datagram(d, ring), flipped)
        if result == ACCEPTED:
            assert position in harmless and message == original, position


# --------------------------------------------------------------------------------------------
# Hostile framing (spec 11)

CRASH_INPUT = b"###\n3:abc,%%%\n"
"""Spec 11.2: this aborts the real daemon through an assert() in the element parser."""


def test_assert_crash_input_is_malformed():
    """The input that crashes Heartbeat 3.0.6 is a plain MalformedPacket here, with or without auth."""
    with pytest.raises(MalformedPacket):
        decode_message(CRASH_INPUT)
    with pytest.raises(MalformedPacket):
        decode_netstring(CRASH_INPUT)
    assert reject(CRASH_INPUT) is MalformedPacket
    assert reject(CRASH_INPUT + b"42:1 a47e2957fc90c36cab63700b65ea32a095e0e121,") is MalformedPacket


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"#",
        b"###",
        b"###\r\n%%%\n",
        b">>>\r\nt=x\n<<<\n",
        b"hello",
        b"###\n%%%",
        b"###\n6:(0)t=x%%%\n",
        b"###\n99999999:(0)t=x,%%%\n",
        b"###\n-1:(0)t=x,%%%\n",
        b"###\n 6:(0)t=x,%%%\n",
        b"###\n6:(9)t=x,%%%\n",
        b"###\n6:(0)t-x,%%%\n",
        b"###\n6:(0)=xx,%%%\n",
        b"###\n6:(0)t=\x00,%%%\n",
        b"###\n9:(2)c=abcd,%%%\n",
        b"###\n14:(2)c=###\n%%%\nx,%%%\n",
        b"###\n9:(3)l=2:a,,%%%\n",
        b">>>\nno equals sign\n<<<\n",
        b">>>\n=x\n<<<\n",
        b">>>\n(0)t=x\n<<<\n",
        b">>>\n(7)t=x\n<<<\n",
        b">>>\nt=x\n",
        b">>>\n(2)c=>>>\x14a=1\x14\n<<<\n",
        b">>>\n(3)l=5:a,\n<<<\n",
    ],
)
def test_malformed_framing(data):
    """Broken framing raises MalformedPacket from both decoders (never another exception)."""
    with pytest.raises(MalformedPacket):
        decode_message(data)
    assert reject(data) is MalformedPacket


def test_oversize_datagram_rejected_quickly():
    """Datagrams of MAXMSG (262144) bytes or more are refused before parsing, in milliseconds."""
    for data in [
        b"###\n" + b"9" * (MAXMSG - 4),
        SPEC_STATUS + b"\x00" * (MAXMSG - len(SPEC_STATUS)),
        b">>>\n" + b"a=b\n" * (MAXMSG // 4),
        b"###\n" + b"7:(0)t=x," * 2_000_000,
    ]:
        started = time.perf_counter()
        with pytest.raises(MalformedPacket):
            decode_datagram(data, HELLO_SHA1)
        with pytest.raises(MalformedPacket):
            decode_message(data)
        assert time.perf_counter() - started < 0.1


def padded_message(payload_size: int) -> Message:
    """A message whose netstring payload is exactly `payload_size` bytes."""
    size = payload_size - 40
    while True:
        message = Message.of(("t", "pad"), ("pad", b"a" * size))
        actual = len(encode_netstring(message))
        if actual == payload_size:
            return message
        size += payload_size - actual


def test_largest_datagram_is_accepted():
    """A datagram of MAXMSG - 1 bytes, trailer included, still decodes."""
    message = padded_message(MAXMSG - 1 - len(b"42:1 ,") - 40)
    datagram = encode_datagram(message, HELLO_SHA1)
    assert len(datagram) == MAXMSG - 1
    assert decode_datagram(datagram, HELLO_SHA1) == message


def test_encode_datagram_never_emits_an_undecodable_datagram():
    """encode_datagram refuses a payload just under MAXMSG, since its trailer pushes it over."""
    message = padded_message(MAXMSG - 1)
    with pytest.raises(EncodeError):
        encode_datagram(message, HELLO_SHA1)


def test_nesting_of_16_levels_round_trips():
    """A chain of 16 nested messages (MAXDEPTH) encodes and decodes in both formats."""
    message = nested(16)
    assert decode_netstring(encode_netstring(message))[0] == message
    assert decode_classic(encode_classic(message))[0] == message
    assert encode_netstring(message) == ref_netstring(message)
    assert encode_classic(message) == ref_classic(message)


def test_nesting_deeper_than_16_is_refused():
    """17 levels: the encoders raise EncodeError, the decoders MalformedPacket."""
    message = nested(17)
    with pytest.raises(EncodeError):
        encode_netstring(message)
    with pytest.raises(EncodeError):
        encode_classic(message)
    with pytest.raises(MalformedPacket):
        decode_message(ref_netstring(message))
    with pytest.raises(MalformedPacket):
        decode_message(ref_classic(message))


def test_deep_nesting_attack_is_malformed():
    """Thousands of nested `###` openers are refused cleanly (no RecursionError)."""
    data = b"###\n6:(0)a=1,%%%\n"
    for _ in range(5000):
        item = b"(2)c=" + data
        data = b"###\n%d:%s,%%%%%%\n" % (len(item), item)
    assert len(data) < MAXMSG
    assert reject(data) is MalformedPacket
    classic = b">>>\n" + b"(2)c=>>>\x14" * 5000 + b"<<<\n"
    assert reject(classic) is MalformedPacket


def list_of(packed_size: int) -> tuple[bytes, ...]:
    """A list whose packed form (`<len>:<item>,`) is exactly `packed_size` bytes."""
    item = b"x" * (packed_size - len(b"1000:,0:,"))
    items = (item, b"")
    assert len(b"".join(b"%d:%s," % (len(i), i) for i in items)) == packed_size
    return items


def test_list_of_1024_bytes_is_accepted():
    """A list packing to exactly MAXLIST (1024) bytes round-trips in both formats."""
    message = Message.of(("t", "l"), ("lst", list_of(MAXLIST)))
    assert decode_message(encode_netstring(message)) == message
    assert decode_message(encode_classic(message)) == message


def test_list_over_1024_bytes_is_refused():
    """A list packing to 1025 bytes cannot be encoded and is malformed when received."""
    message = Message.of(("t", "l"), ("lst", list_of(MAXLIST + 1)))
    for encode in (encode_netstring, encode_classic):
        with pytest.raises(EncodeError):
            encode(message)
    for data in (ref_netstring(message), ref_classic(message)):
        with pytest.raises(MalformedPacket):
            decode_message(data)


@pytest.mark.parametrize(
    "line", [b"(1)u=!!!!", b"(1)u=abc", b"(1)u=ab=c", b"(1)u=YWJj\x13", b"(4)z=%%%%", b"(1)u=YW Jj"]
)
def test_bad_base64_in_classic_binary(line):
    """A classic binary or compressed field that is not strict base64 is malformed."""
    frame = b">>>\nt=x\n" + line + b"\n<<<\n"
    with pytest.raises(MalformedPacket):
        decode_message(frame)
    assert reject(frame) is MalformedPacket


# --------------------------------------------------------------------------------------------
# Compression (spec 1.5)


def test_zlib_bomb_is_malformed():
    """zlib of 10 MB of zeros, signed properly, is refused as MalformedPacket without expanding it."""
    for inner in [b"\x00" * 10_000_000, b"###\n10000005:(1)z=" + b"\x00" * 10_000_000 + b",%%%\n"]:
        datagram = encode_datagram(wrap(inner, "zlib"), HELLO_SHA1)
        assert len(datagram) < 65507
        started = time.perf_counter()
        with pytest.raises(MalformedPacket):
            decode_datagram(datagram, HELLO_SHA1)
        assert time.perf_counter() - started < 1.0


def test_bz2_bomb_is_malformed():
    """bz2 of 10 MB of zeros, signed properly, is refused as MalformedPacket."""
    datagram = encode_datagram(wrap(b"\x00" * 10_000_000, "bz2"), HELLO_SHA1)
    assert reject(datagram) is MalformedPacket


def test_expansion_limit_is_2_mib():
    """Expanding to exactly MAXUNCOMPRESSED bytes is allowed, one byte more is not."""
    assert len(decompress(zlib.compress(b"a" * MAXUNCOMPRESSED), "zlib")) == MAXUNCOMPRESSED
    assert len(decompress(bz2.compress(b"a" * MAXUNCOMPRESSED), "bz2")) == MAXUNCOMPRESSED
    with pytest.raises(MalformedPacket):
        decompress(zlib.compress(b"a" * (MAXUNCOMPRESSED + 1)), "zlib")
    with pytest.raises(MalformedPacket):
        decompress(bz2.compress(b"a" * (MAXUNCOMPRESSED + 1)), "bz2")


@pytest.mark.parametrize("algorithm", ["zlib", "bz2"])
@pytest.mark.parametrize("encode", [encode_netstring, encode_classic], ids=["netstring", "classic"])
def test_compressed_message_expands(algorithm, encode):
    """A whole message compressed with zlib or bz2 and signed decodes to the original message."""
    inner = sign_inner(spec_status_message().with_field("big", b"0123456789" * 500), HELLO_SHA1)
    wrapper = wrap(encode(inner), algorithm)
    assert [f.name for f in wrapper] == [b"_compressed_payload", b"_compression_algorithm"]
    assert wrapper.field("_compressed_payload").type is FieldType.BINARY
    assert wrapper.text("_compression_algorithm") == algorithm
    datagram = encode_datagram(wrapper, HELLO_SHA1)
    assert len(datagram) < len(encode_netstring(inner)) // 4
    assert decode_datagram(datagram, HELLO_SHA1) == inner
    assert decode_message(datagram) == inner
    assert compressed_payload(wrapper) == encode(inner)


@pytest.mark.parametrize(
    "wrapper",
    [
        Message([Field(b"_compressed_payload", FieldType.BINARY, zlib.compress(SPEC_STATUS))]),
        Message(
            [
                Field(b"_compressed_payload", FieldType.BINARY, zlib.compress(SPEC_STATUS)),
                Field(b"_compression_algorithm", FieldType.STRING, b"lzo"),
            ]
        ),
        Message(
            [
                Field(b"_compressed_payload", FieldType.BINARY, b"not zlib"),
                Field(b"_compression_algorithm", FieldType.STRING, b"zlib"),
            ]
        ),
        Message(
            [
                Field(b"_compressed_payload", FieldType.BINARY, zlib.compress(SPEC_STATUS)[:-5]),
                Field(b"_compression_algorithm", FieldType.STRING, b"zlib"),
            ]
        ),
        Message(
            [
                Field(b"_compressed_payload", FieldType.BINARY, bz2.compress(SPEC_STATUS)[:-5]),
                Field(b"_compression_algorithm", FieldType.STRING, b"bz2"),
            ]
        ),
        Message(
            [
                Field(b"_compressed_payload", FieldType.LIST, (b"x",)),
                Field(b"_compression_algorithm", FieldType.STRING, b"zlib"),
            ]
        ),
        wrap(b"plain text, not a message", "zlib"),
        wrap(b"###\n3:abc,%%%\n", "zlib"),
    ],
    ids=[
        "no-algorithm",
        "unknown-algorithm",
        "garbage",
        "truncated-zlib",
        "truncated-bz2",
        "list-payload",
        "not-a-message",
        "crash-input-inside",
    ],
)
def test_bad_compressed_message_is_malformed(wrapper):
    """A properly signed wrapper whose compressed payload is unusable is MalformedPacket."""
    datagram = encode_datagram(wrapper, HELLO_SHA1)
    assert reject(datagram) is MalformedPacket
    with pytest.raises(MalformedPacket):
        decode_message(datagram)


# --------------------------------------------------------------------------------------------
# Encoding refuses what cannot be sent

BAD_NAMES = [b"a=b", b"", b"a\nb", b"a\x00b", b"(1)x", b"="]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_encoders_refuse_bad_names(name):
    """Every encoder raises EncodeError for a name with `=`, newline or NUL, empty or `(`-led."""
    message = Message([Field(b"t", FieldType.STRING, b"x"), Field(name, FieldType.STRING, b"v")])
    for encode in (
        encode_netstring,
        encode_classic,
        lambda m: encode_datagram(m, HELLO_SHA1),
        lambda m: encode_frame(m, HELLO_SHA1),
        lambda m: sign_inner(m, HELLO_SHA1),
    ):
        with pytest.raises(EncodeError):
            encode(message)


def test_encoders_refuse_bad_values():
    """NUL in a string, a newline in a classic list and a wrongly typed value raise EncodeError."""
    nul = Message.of(("t", b"a\x00b"))
    for encode in (encode_netstring, encode_classic):
        with pytest.raises(EncodeError):
            encode(nul)
    with pytest.raises(EncodeError):
        encode_classic(Message.of(("l", (b"a\nb",))))
    assert decode_message(encode_netstring(Message.of(("l", (b"a\nb",))))).get("l") == (b"a\nb",)
    for wrong in [
        Field(b"s", FieldType.STRUCT, b"x"),
        Field(b"l", FieldType.LIST, b"x"),
        Field(b"b", FieldType.BINARY, ("x",)),
    ]:
        for encode in (encode_netstring, encode_classic):
            with pytest.raises(EncodeError):
                encode(Message([wrong]))


def test_classic_encoder_refuses_nul_in_list():
    """A list item with NUL cannot be carried in classic text (the parser stops at NUL)."""
    with pytest.raises(EncodeError):
        encode_classic(Message.of(("l", (b"a\x00b",))))
