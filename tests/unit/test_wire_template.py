"""Message templates: what they refuse, and datagrams that travel with their message."""

from __future__ import annotations

import pytest

from hbtwist.wire import (
    AuthMethod,
    EncodeError,
    Field,
    FieldType,
    Message,
    decode_datagram,
    encode_datagram,
)
from hbtwist.wire.datagram import EncodedMessage
from hbtwist.wire.template import MessageTemplate
from tests.wirecases import HELLO_MD5, HELLO_SHA1, keyring

STATUS = Message.of(("t", "status"), ("st", "active"), ("seq", "1"), ("ts", "10"), ("ttl", "4"))
SLOTS = (b"seq", b"ts")


def _string(name: bytes, value: bytes) -> Field:
    return Field(name, FieldType.STRING, value)


def test_filled_message_carries_a_datagram_that_decodes_to_it() -> None:
    """The filled message holds its datagram; decoding that datagram gives the message back."""
    template = MessageTemplate(STATUS.fields, SLOTS, HELLO_SHA1, inner_auth=True)
    filled = template.fill([_string(b"seq", b"2"), _string(b"ts", b"11")])
    assert isinstance(filled, EncodedMessage)
    assert encode_datagram(filled, HELLO_SHA1) is filled.datagram
    assert decode_datagram(filled.datagram, HELLO_SHA1) == filled
    assert [entry.name for entry in filled][-1] == b"auth"


def test_another_keyring_encodes_the_message_again() -> None:
    """Encoding a filled message with a keyring other than its own signs it with that keyring."""
    filled = MessageTemplate(STATUS.fields, SLOTS, HELLO_SHA1, inner_auth=False).fill(
        [_string(b"seq", b"2"), _string(b"ts", b"11")]
    )
    datagram = encode_datagram(filled, HELLO_MD5)
    assert datagram != filled.datagram
    assert decode_datagram(datagram, HELLO_MD5) == filled


def test_a_changed_copy_is_a_plain_message() -> None:
    """A copy with a field changed does not keep the original's datagram."""
    ring = keyring(AuthMethod.CRC)
    filled = MessageTemplate(STATUS.fields, SLOTS, ring, inner_auth=False).fill(
        [_string(b"seq", b"2"), _string(b"ts", b"11")]
    )
    changed = filled.with_field("st", "dead")
    assert not isinstance(changed, EncodedMessage)
    assert decode_datagram(encode_datagram(changed, ring), ring).text("st") == "dead"


def test_a_slot_value_holding_nul_is_refused_like_any_string() -> None:
    """A NUL in a slot's value raises EncodeError, as encoding the whole message does."""
    template = MessageTemplate(STATUS.fields, SLOTS, HELLO_SHA1, inner_auth=True)
    with pytest.raises(EncodeError):
        template.fill([_string(b"seq", b"2\0"), _string(b"ts", b"11")])


def test_a_value_for_another_slot_is_refused() -> None:
    """Fields given out of slot order, of another type or too few are refused."""
    template = MessageTemplate(STATUS.fields, SLOTS, HELLO_SHA1, inner_auth=True)
    with pytest.raises(ValueError):
        template.fill([_string(b"ts", b"11"), _string(b"seq", b"2")])
    with pytest.raises(ValueError):
        template.fill([Field(b"seq", FieldType.BINARY, b"2"), _string(b"ts", b"11")])
    with pytest.raises(ValueError):
        template.fill([_string(b"seq", b"2")])


@pytest.mark.parametrize(
    ("fields", "slots", "inner_auth"),
    [
        (STATUS.fields, (b"dt",), False),
        ((*STATUS.fields, _string(b"seq", b"9")), (b"seq",), False),
        ((*STATUS.fields, Field(b"hg", FieldType.BINARY, b"5")), (b"hg",), False),
        (STATUS.fields, (b"ts", b"seq"), False),
        ((*STATUS.fields, _string(b"auth", b"1 ab")), SLOTS, True),
    ],
    ids=["missing", "twice", "not a string", "out of order", "auth already there"],
)
def test_a_template_that_cannot_be_filled_is_refused(fields, slots, inner_auth) -> None:
    """A slot missing, named twice, not a STRING, out of wire order, or an inner signature over a
    message already signed: ValueError when the template is made."""
    with pytest.raises(ValueError):
        MessageTemplate(fields, slots, HELLO_SHA1, inner_auth=inner_auth)


def test_a_field_that_cannot_be_encoded_is_refused_when_the_template_is_made() -> None:
    """A fixed field with a bad name raises EncodeError at once, not at each fill."""
    with pytest.raises(EncodeError):
        MessageTemplate((*STATUS.fields, _string(b"a=b", b"1")), SLOTS, HELLO_SHA1, inner_auth=False)
