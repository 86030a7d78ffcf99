"""The field memos of the codecs change nothing on the wire and stay bounded."""

from __future__ import annotations

import pytest

from hbtwist.wire import FieldType, Message, classic, netstring
from hbtwist.wire.memo import MEMO_LIMIT

NESTED = Message.of(("t", "status"), ("inner", Message.of(("a", "1"))), ("list", (b"x", b"y")))


@pytest.fixture(autouse=True)
def empty_memos() -> None:
    """Each test starts with empty memos."""
    for memo in (netstring._RENDERED, netstring._PARSED, netstring._RUNS, classic._RENDERED):
        memo.clear()


def test_remembered_forms_are_the_rendered_ones() -> None:
    """A message encodes to the same bytes with its fields remembered as with empty memos."""
    fresh_netstring, fresh_classic = netstring.encode_netstring(NESTED), classic.encode_classic(NESTED)
    assert netstring.encode_netstring(NESTED) == fresh_netstring
    assert classic.encode_classic(NESTED) == fresh_classic
    assert netstring.decode_netstring(fresh_netstring)[0] == NESTED
    assert netstring.decode_netstring(fresh_netstring)[0] == NESTED


def test_nested_messages_are_not_remembered() -> None:
    """Struct fields are rendered and parsed each time (their form depends on the depth)."""
    netstring.decode_netstring(netstring.encode_netstring(NESTED))
    classic.encode_classic(NESTED)
    for memo in (netstring._RENDERED, classic._RENDERED):
        assert all(field_type is not FieldType.STRUCT for _name, field_type, _value in memo)
    assert not any(element.startswith(b"(2)") for element in netstring._PARSED)


def test_memos_are_bounded() -> None:
    """More distinct fields than MEMO_LIMIT never make a memo hold more than MEMO_LIMIT."""
    for number in range(MEMO_LIMIT + 10):
        encoded = netstring.encode_netstring(Message.of(("n", str(number))))
        netstring.decode_netstring(encoded)
    assert 0 < len(netstring._RENDERED) <= MEMO_LIMIT
    assert 0 < len(netstring._PARSED) <= MEMO_LIMIT


def test_bad_element_is_refused_every_time() -> None:
    """A malformed element is never remembered: each arrival raises again."""
    for _ in range(2):
        with pytest.raises(netstring.MalformedPacket):
            netstring.decode_netstring(b"###\n6:(9)a=b,%%%\n")
    assert netstring._PARSED == {}


def test_with_fields_sets_as_with_field_does() -> None:
    """Setting several fields at once equals setting them one by one: the first field of a name
    is replaced in place, later ones of that name kept, new names appended in order."""
    message = Message.of(("a", "1"), ("b", "2"), ("a", "3"))
    one_by_one = message.with_field("a", "x").with_field("c", "y").with_field("d", "z")
    entries = Message.of(("a", "x"), ("c", "y"), ("d", "z")).fields
    assert message.with_fields(entries) == one_by_one
    assert [entry.value for entry in one_by_one] == [b"x", b"2", b"3", b"y", b"z"]
