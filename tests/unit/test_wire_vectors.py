"""Every packet captured from real Heartbeat 3.0.6 daemons decodes, verifies and re-encodes exactly."""

from __future__ import annotations

import pytest

from hbtwist.wire import (
    FieldType,
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
from tests.wirecases import FIXTURES, SERIAL_FRAMES, VECTOR_RING, VECTORS, payload_end

by_ident = pytest.mark.parametrize("vector", VECTORS, ids=[v.ident for v in VECTORS])
by_frame = pytest.mark.parametrize("frame", SERIAL_FRAMES, ids=[f.ident for f in SERIAL_FRAMES])


def test_fixtures_are_all_there():
    """The fixture copy holds all 8 message-type files (118 packets) and 12 serial frames."""
    assert (FIXTURES / "README.md").is_file()
    assert len({v.ident.split(":")[0] for v in VECTORS}) == 8
    assert len(VECTORS) == 118
    assert len(SERIAL_FRAMES) == 12


@by_ident
def test_vector_decodes_and_verifies(vector):
    """The packet is netstring + trailer; it decodes with the key and its inner auth verifies."""
    assert vector.data.startswith(b"###\n")
    message = decode_datagram(vector.data, VECTOR_RING)
    assert verify_inner(message, VECTOR_RING)
    assert message.fields[-1].name == b"auth"
    assert decode_message(vector.data) == message


@by_ident
def test_vector_type_matches_file(vector):
    """The message's `t` field is the type named by its file (and its jsonl row)."""
    message = decode_datagram(vector.data, VECTOR_RING)
    assert message.text("t") == vector.type
    assert vector.ident.startswith(vector.type + ".jsonl:")


@by_ident
def test_vector_reencodes_byte_exact(vector):
    """encode_datagram of the decoded message gives back the captured bytes."""
    message = decode_datagram(vector.data, VECTOR_RING)
    assert encode_datagram(message, VECTOR_RING) == vector.data
    end = payload_end(vector.data)
    assert decode_netstring(vector.data) == (message, end)
    assert encode_netstring(message) == vector.data[:end]


@by_ident
def test_vector_rebuilt_from_fields(vector):
    """Fields minus `auth`, re-signed with sign_inner + encode_datagram, give the captured bytes."""
    message = decode_datagram(vector.data, VECTOR_RING)
    unsigned = message.without("auth")
    assert len(unsigned) == len(message) - 1
    assert encode_datagram(sign_inner(unsigned, VECTOR_RING), VECTOR_RING) == vector.data


@by_ident
def test_vector_as_classic_frame(vector):
    """The packet converted to classic (encode_frame) decodes and verifies to the same fields."""
    message = decode_datagram(vector.data, VECTOR_RING)
    frame = encode_frame(message.without("auth"), VECTOR_RING)
    assert frame.startswith(b">>>\n") and frame.endswith(b"<<<\n")
    assert decode_datagram(frame, VECTOR_RING) == message
    assert decode_classic(frame) == (message, len(frame))


@by_frame
def test_serial_frame_decodes_and_verifies(frame):
    """The serial frame is classic text whose inner auth verifies with the vector key."""
    message = decode_datagram(frame.data, VECTOR_RING)
    assert verify_inner(message, VECTOR_RING)
    assert message.text("t")
    assert message.field("srcuuid").type is FieldType.BINARY
    assert decode_message(frame.data) == message


@by_frame
def test_serial_frame_reencodes_byte_exact(frame):
    """encode_classic and encode_frame(without auth) give back the frame exactly."""
    message = decode_datagram(frame.data, VECTOR_RING)
    assert encode_classic(message) == frame.data
    assert encode_frame(message.without("auth"), VECTOR_RING) == frame.data


@by_frame
def test_serial_frame_as_netstring_datagram(frame):
    """The serial frame's message sent over UDP (encode_datagram) decodes to the same fields."""
    message = decode_datagram(frame.data, VECTOR_RING)
    datagram = encode_datagram(message, VECTOR_RING)
    assert datagram.startswith(b"###\n")
    assert decode_datagram(datagram, VECTOR_RING) == message
