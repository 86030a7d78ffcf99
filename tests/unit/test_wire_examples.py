"""Byte-exact examples from the Heartbeat 3.0.6 spec (sections 1.2, 1.3, 1.8, 2.2, 2.5, 5.5)."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from hbtwist.wire import (
    AuthKey,
    AuthMethod,
    Field,
    FieldType,
    Message,
    classic_body,
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
from tests.wirecases import (
    CRC_RING,
    HELLO_MD5,
    HELLO_SHA1,
    NODE1_UUID,
    NODE2_UUID,
    SPEC_ACKMSG,
    SPEC_CLASSIC_EXAMPLE,
    SPEC_NETSTRING_EXAMPLE,
    SPEC_REXMIT,
    SPEC_STATUS,
    SPEC_STATUS_INNER_D,
    SPEC_STATUS_PAYLOAD_LEN,
    keyring,
    node2_message,
    ref_crc32,
    spec_demo_message,
    spec_status_message,
)

# --------------------------------------------------------------------------------------------
# 1.8 / 2.5: the status packet


def test_status_packet_literal_is_303_bytes_with_257_byte_payload():
    """The spec literal itself has the sizes the spec states (guards the transcription)."""
    assert len(SPEC_STATUS) == 303
    assert SPEC_STATUS[:SPEC_STATUS_PAYLOAD_LEN].endswith(b"%%%\n")
    assert SPEC_STATUS[SPEC_STATUS_PAYLOAD_LEN:] == b"42:1 a47e2957fc90c36cab63700b65ea32a095e0e121,"


def test_status_inner_input_is_the_143_byte_classic_body():
    """The inner auth input of spec 2.5 step 2 is classic_body without `auth`, 143 bytes."""
    body = classic_body(spec_status_message(), skip_auth=True)
    assert body == SPEC_STATUS_INNER_D
    assert len(body) == 143


def test_status_inner_auth_field_is_appended_last():
    """sign_inner with `1 sha1 Hello!` appends exactly the spec's inner auth field as field 12."""
    signed = sign_inner(spec_status_message(), HELLO_SHA1)
    assert len(signed) == 12
    assert signed.fields[-1] == Field(
        b"auth", FieldType.STRING, b"1 048f1a400d8b9389c28c55bbd146cffed579f830"
    )


def test_status_packet_built_from_fields_is_byte_exact():
    """sign_inner + encode_datagram of the spec 1.8 fields gives the 303 spec bytes exactly."""
    datagram = encode_datagram(sign_inner(spec_status_message(), HELLO_SHA1), HELLO_SHA1)
    assert datagram == SPEC_STATUS


def test_status_packet_decodes_verifies_and_reencodes():
    """The spec 1.8 bytes decode to the spec fields, both codes verify, and re-encode exactly."""
    message = decode_datagram(SPEC_STATUS, HELLO_SHA1)
    assert message == sign_inner(spec_status_message(), HELLO_SHA1)
    assert message.text("st") == "active"
    assert message.binary("srcuuid") == NODE1_UUID
    assert verify_inner(message, HELLO_SHA1)
    assert encode_datagram(message, HELLO_SHA1) == SPEC_STATUS


def test_status_packet_netstring_payload_is_its_first_257_bytes():
    """encode_netstring of the signed message is the trailer-covered part of the datagram."""
    payload = encode_netstring(sign_inner(spec_status_message(), HELLO_SHA1))
    assert payload == SPEC_STATUS[:SPEC_STATUS_PAYLOAD_LEN]


def test_status_packet_trailer_is_hmac_sha1_of_payload():
    """The trailer token is Python's HMAC-SHA1 with `Hello!` over bytes 0-256 (spec 2.4)."""
    token = hmac.new(b"Hello!", SPEC_STATUS[:SPEC_STATUS_PAYLOAD_LEN], hashlib.sha1).hexdigest()
    assert token == "a47e2957fc90c36cab63700b65ea32a095e0e121"


def test_status_classic_rendering_matches_spec():
    """The classic text of the signed status message is the one given in spec 1.8."""
    frame = encode_frame(spec_status_message(), HELLO_SHA1)
    assert frame == (
        b">>>\n" + SPEC_STATUS_INNER_D + b"auth=1 048f1a400d8b9389c28c55bbd146cffed579f830\n<<<\n"
    )
    assert decode_datagram(frame, HELLO_SHA1) == decode_datagram(SPEC_STATUS, HELLO_SHA1)


@pytest.mark.parametrize(
    ("ring", "inner", "trailer"),
    [
        (HELLO_MD5, b"3 a87de87078ed8216a04093bd0c1c8467", b"34:3 24d4d37b1d9bbd7b156dfd938b7da1f5,"),
        (CRC_RING, b"1 b2b12cb1", b"10:1 7d2f357d,"),
    ],
    ids=["md5", "crc"],
)
def test_status_packet_other_methods(ring, inner, trailer):
    """Spec 2.5: the md5 (`3 md5 Hello!`) and crc (`1 crc`) inner auth and trailer values."""
    signed = sign_inner(spec_status_message(), ring)
    assert signed.get("auth") == inner
    datagram = encode_datagram(signed, ring)
    assert datagram.endswith(b"%%%\n" + trailer)
    assert datagram[: -len(trailer)] == encode_netstring(signed)
    assert decode_datagram(datagram, ring) == signed
    assert verify_inner(signed, ring)


# --------------------------------------------------------------------------------------------
# 1.2 / 1.3: the classic and netstring examples


def test_classic_example_decodes_to_demo_message():
    """Spec 1.2 classic bytes decode to the demo message, consuming the whole buffer."""
    message, end = decode_classic(SPEC_CLASSIC_EXAMPLE)
    assert message == spec_demo_message()
    assert end == len(SPEC_CLASSIC_EXAMPLE)


def test_classic_example_encodes_byte_exact():
    """encode_classic of the demo message is the spec 1.2 bytes exactly."""
    assert encode_classic(spec_demo_message()) == SPEC_CLASSIC_EXAMPLE


def test_netstring_example_decodes_to_demo_message():
    """Spec 1.3 netstring bytes decode to the demo message, consuming the whole buffer."""
    message, end = decode_netstring(SPEC_NETSTRING_EXAMPLE)
    assert message == spec_demo_message()
    assert end == len(SPEC_NETSTRING_EXAMPLE)


def test_netstring_example_encodes_byte_exact():
    """encode_netstring of the demo message is the spec 1.3 bytes exactly."""
    assert encode_netstring(spec_demo_message()) == SPEC_NETSTRING_EXAMPLE


def test_demo_message_types_and_values():
    """The demo message carries a real newline, a 2-item list and a nested struct (not text)."""
    message = decode_message(SPEC_CLASSIC_EXAMPLE)
    assert message.get("multi") == b"line1\nline2"
    assert message.field("lst") == Field(b"lst", FieldType.LIST, (b"abc", b"defg"))
    child = message.get("child")
    assert isinstance(child, Message)
    assert child.get("b") == b"x\ny"
    assert decode_message(SPEC_NETSTRING_EXAMPLE) == message


# --------------------------------------------------------------------------------------------
# 5.5: NS_rexmit and NS_ackmsg

REXMIT_FIELDS = node2_message(
    ("t", "NS_rexmit"), ("dest", "node1"), ("firstseq", "42"), ("lastseq", "42")
)
ACKMSG_FIELDS = node2_message(("t", "NS_ackmsg"), ("dest", "node1"), ("ackseq", "2a"))


@pytest.mark.parametrize(
    ("datagram", "fields"),
    [(SPEC_REXMIT, REXMIT_FIELDS), (SPEC_ACKMSG, ACKMSG_FIELDS)],
    ids=["NS_rexmit", "NS_ackmsg"],
)
def test_section_5_5_datagrams(datagram, fields):
    """Spec 5.5 datagrams decode and verify, re-encode exactly, and are rebuilt from fields."""
    message = decode_datagram(datagram, HELLO_SHA1)
    assert message.without("auth") == fields
    assert verify_inner(message, HELLO_SHA1)
    assert encode_datagram(message, HELLO_SHA1) == datagram
    assert encode_datagram(sign_inner(fields, HELLO_SHA1), HELLO_SHA1) == datagram


def test_section_5_5_seq_fields():
    """NS_ messages carry no seq/ld; rexmit asks in decimal (42), ack answers in hex (2a)."""
    rexmit = decode_datagram(SPEC_REXMIT, HELLO_SHA1)
    ack = decode_datagram(SPEC_ACKMSG, HELLO_SHA1)
    for message in (rexmit, ack):
        assert "seq" not in message and "ld" not in message
        assert message.binary("srcuuid") == NODE2_UUID
        assert message.binary("destuuid") == NODE1_UUID
    assert rexmit.text("firstseq") == rexmit.text("lastseq") == "42"
    assert ack.text("ackseq") == "2a"


# --------------------------------------------------------------------------------------------
# 2.2: the algorithms


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        (AuthMethod.CRC, b"8c850d51"),
        (AuthMethod.MD5, b"cc7db04e1554c3947cd47c7591f43237"),
        (AuthMethod.SHA1, b"5d33f10ce687bf59ab9b03619f12eb7a0d07a707"),
    ],
)
def test_algorithm_vectors(method, expected):
    """Spec 2.2: tokens of D=`hello world` with K=`secretkey` for each method."""
    secret = b"" if method is AuthMethod.CRC else b"secretkey"
    assert AuthKey(1, method, secret).token(b"hello world") == expected


def test_crc_check_value():
    """The crc method's check value for `123456789` is 765e7680 (CRC-32/POSIX without length)."""
    assert AuthKey(1, AuthMethod.CRC).token(b"123456789") == b"765e7680"
    assert ref_crc32(b"123456789") == 0x765E7680


def test_crc_matches_bitwise_reference():
    """The table-driven crc equals a bit-by-bit reference on assorted inputs."""
    for data in [b"", b"\x00", b"\xff" * 7, SPEC_STATUS, SPEC_STATUS_INNER_D, bytes(range(256))]:
        assert AuthKey(0, AuthMethod.CRC).token(data) == b"%x" % ref_crc32(data)


@pytest.mark.parametrize(
    ("method", "digest"), [(AuthMethod.SHA1, hashlib.sha1), (AuthMethod.MD5, hashlib.md5)]
)
def test_hmac_with_100_byte_key_equals_python_hmac(method, digest):
    """A 100-byte key (longer than the 64-byte block, so pre-hashed) gives Python's HMAC."""
    secret = bytes(range(33, 133))
    assert len(secret) == 100
    data = SPEC_STATUS_INNER_D
    expected = hmac.new(secret, data, digest).hexdigest().encode()
    assert AuthKey(5, method, secret).token(data) == expected
    assert keyring(method, secret, 5).sign(data) == b"5 " + expected


@pytest.mark.parametrize(
    ("method", "secret", "data", "expected"),
    [
        (AuthMethod.SHA1, b"\x0b" * 20, b"Hi There", "b617318655057264e28bc0b6fb378c8ef146be00"),
        (AuthMethod.SHA1, b"Jefe", b"what do ya want for nothing?",
         "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"),
        (AuthMethod.SHA1, b"\xaa" * 80, b"Test Using Larger Than Block-Size Key - Hash Key First",
         "aa4ae5e15272d00e95705637ce8a3b55ed402112"),
        (AuthMethod.MD5, b"\x0b" * 16, b"Hi There", "9294727a3638bb1c13f48ef8158bfc9d"),
        (AuthMethod.MD5, b"Jefe", b"what do ya want for nothing?", "750c783e6ab0b503eaa86e310a5db738"),
        (AuthMethod.MD5, b"\xaa" * 80, b"Test Using Larger Than Block-Size Key - Hash Key First",
         "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd"),
    ],
)  # fmt: skip
def test_hmac_matches_rfc_2202(method, secret, data, expected):
    """Tokens are HMAC-SHA1 and HMAC-MD5 as RFC 2202's test cases give them, short and long
    keys alike, and stay so when one key signs many messages."""
    key = AuthKey(1, method, secret)
    assert [key.token(data) for _ in range(3)] == [expected.encode()] * 3


def test_crc_token_has_no_leading_zeros():
    """A crc below 0x10000000 prints with fewer than 8 hex digits, and its trailer is shorter."""
    assert AuthKey(1, AuthMethod.CRC).token(b"heartbeat-4351") == b"c7277"
    seq = 0
    while True:
        message = spec_status_message().with_field("seq", b"%x" % seq)
        payload = encode_netstring(message)
        if ref_crc32(payload) < 0x10000000:
            break
        seq += 1
    datagram = encode_datagram(message, CRC_RING)
    token = b"%x" % ref_crc32(payload)
    assert len(token) < 8 and not token.startswith(b"0")
    assert datagram == payload + b"%d:1 %s," % (len(token) + 2, token)
    assert decode_datagram(datagram, CRC_RING) == message
