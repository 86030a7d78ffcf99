"""Numbers in message fields: plain ASCII hex or decimal digit strings, and nothing else.

Heartbeat writes every number as bare lower-case hex (`seq`, `hg`, `ts`, `dt`, `ackseq`, the
`firstseq` of a NAK) or bare decimal (`firstseq`/`lastseq` of `NS_rexmit`, `ttl`). Python's
`int()` also takes signs, underscores, surrounding spaces, a `0x` prefix and non-ASCII digits,
and raises on some of them; these parsers take only the digits and answer None for anything
else, so the caller can drop the message and count it.
"""

from __future__ import annotations

_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
_DECIMAL_DIGITS = frozenset("0123456789")


def parse_hex(text: str | None, max_digits: int = 16) -> int | None:
    """The value of 1..max_digits ASCII hex digits, or None (absent, empty, anything else)."""
    if text is None or not _is_digits(text, _HEX_DIGITS, max_digits):
        return None
    return int(text, 16)


def parse_decimal(text: str | None, max_digits: int = 10) -> int | None:
    """The value of 1..max_digits ASCII decimal digits, or None (absent, empty, anything else)."""
    if text is None or not _is_digits(text, _DECIMAL_DIGITS, max_digits):
        return None
    return int(text, 10)


def _is_digits(text: str, digits: frozenset[str], max_digits: int) -> bool:
    return 0 < len(text) <= max_digits and digits.issuperset(text)
