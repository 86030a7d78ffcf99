"""Strict parsing of the numbers in message fields (hbtwist.core.fields)."""

from __future__ import annotations

import sys
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hbtwist.core.fields import parse_decimal, parse_hex

NON_ASCII_DIGITS = [
    chr(code)
    for code in range(0x80, sys.maxunicode + 1)
    if unicodedata.category(chr(code)) == "Nd" or chr(code).isdigit() or chr(code).isnumeric()
]
"""Every character outside ASCII that `str.isdigit`, `str.isnumeric` or `int()` could take."""

FORMS_INT_ACCEPTS = ["-5", "+5", " 10", "10 ", "1_0", "\t7\n", "0x10", "0X10", "0o7"]
"""Texts `int()` turns into numbers although Heartbeat never writes them."""


@given(st.text())
def test_hex_never_raises(text: str) -> None:
    """parse_hex answers an int or None for any text at all."""
    result = parse_hex(text)
    assert result is None or isinstance(result, int)


@given(st.text())
def test_decimal_never_raises(text: str) -> None:
    """parse_decimal answers an int or None for any text at all."""
    result = parse_decimal(text)
    assert result is None or isinstance(result, int)


@given(st.integers(min_value=0, max_value=2**64 - 1), st.booleans())
def test_hex_round_trips(value: int, upper: bool) -> None:
    """Every 64-bit value written as bare hex, either case, parses back to itself."""
    text = f"{value:X}" if upper else f"{value:x}"
    assert parse_hex(text) == value


@given(st.integers(min_value=0, max_value=10**10 - 1))
def test_decimal_round_trips(value: int) -> None:
    """Every value of up to ten decimal digits parses back to itself."""
    assert parse_decimal(str(value)) == value


@given(st.integers(min_value=0, max_value=2**32 - 1), st.integers(min_value=1, max_value=4))
def test_leading_zeros_count_towards_the_bound(value: int, zeros: int) -> None:
    """Leading zeros are digits like any other: accepted while the text fits the bound."""
    text = "0" * zeros + f"{value:x}"
    assert parse_hex(text) == (value if len(text) <= 16 else None)
    assert parse_hex(text, max_digits=len(text)) == value
    assert parse_hex(text, max_digits=len(text) - 1) is None


@given(st.text(alphabet="0123456789abcdef", min_size=17, max_size=60))
def test_overlong_hex_rejected(text: str) -> None:
    """More than max_digits hex digits is refused, whatever they are."""
    assert parse_hex(text) is None


@given(st.text(alphabet="0123456789", min_size=11, max_size=60))
def test_overlong_decimal_rejected(text: str) -> None:
    """More than max_digits decimal digits is refused, whatever they are."""
    assert parse_decimal(text) is None


def test_max_digits_is_the_bound() -> None:
    """max_digits sets how many digits are accepted."""
    assert parse_hex("ffffffff", max_digits=8) == 0xFFFFFFFF
    assert parse_hex("1ffffffff", max_digits=8) is None
    assert parse_decimal("2147483647", max_digits=10) == 2147483647
    assert parse_decimal("123", max_digits=2) is None


@pytest.mark.parametrize("text", [None, ""])
def test_absent_or_empty_is_none(text: str | None) -> None:
    """A missing field and an empty one are both no number."""
    assert parse_hex(text) is None
    assert parse_decimal(text) is None


@pytest.mark.parametrize("text", FORMS_INT_ACCEPTS)
def test_signs_spaces_underscores_prefixes_rejected(text: str) -> None:
    """Signs, surrounding white space, underscores and base prefixes are not digits."""
    assert parse_hex(text) is None
    assert parse_decimal(text) is None


def test_every_non_ascii_digit_rejected() -> None:
    """No digit or numeric character outside ASCII (`²`, `٣`, `໖`, ...) is taken, alone or mixed."""
    assert "²" in NON_ASCII_DIGITS and "٣" in NON_ASCII_DIGITS
    for char in NON_ASCII_DIGITS:
        for text in (char, "1" + char, char + "1"):
            assert parse_hex(text) is None, repr(text)
            assert parse_decimal(text) is None, repr(text)


@given(st.text(min_size=1).filter(lambda text: not text.isascii()))
def test_any_non_ascii_text_rejected(text: str) -> None:
    """Text with any character outside ASCII is never a number."""
    assert parse_hex(text) is None
    assert parse_decimal(text) is None


@given(st.text(alphabet="abcdefABCDEF", min_size=1, max_size=10))
def test_hex_letters_are_not_decimal(text: str) -> None:
    """Hex letters make a hex number but never a decimal one."""
    assert parse_hex(text) == int(text, 16)
    assert parse_decimal(text) is None


def test_surrogate_escaped_bytes_rejected() -> None:
    """Undecodable field bytes (kept as surrogate escapes by Message.text) are not digits."""
    text = b"1\xb2".decode("utf-8", "surrogateescape")
    assert parse_hex(text) is None
    assert parse_decimal(text) is None
