"""Time values of ha.cf, read as Heartbeat's `cl_get_msec` reads them, in integer milliseconds.

A value is a decimal number of seconds (`2`, `1.5`, `.25`), or of milliseconds with the suffix
`ms`/`msec`, or of microseconds with `us`/`usec` (suffixes case-insensitive, blanks allowed before
them). The result is rounded half up to a whole millisecond, with the same double-precision
arithmetic as Heartbeat (`501us` is 1 ms, `499us` is 0 ms).
"""

from __future__ import annotations

import re

from hbtwist.config.problems import shown

MAX_DURATION_MS = 2**31 - 1
"""Largest accepted value: Heartbeat keeps times in C longs and sends them as 32-bit hex."""

_DURATION = re.compile(
    r"[ \t\n\r\f]*(?P<number>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[ \t\n\r\f]*(?P<unit>[A-Za-z]*)[ \t\n\r\f]*"
)
_UNITS = {"": (1000, 1), "ms": (1, 1), "msec": (1, 1), "us": (1, 1000), "usec": (1, 1000)}


def parse_duration_ms(text: str) -> int:
    """The duration `text` in whole milliseconds; ValueError for negative or malformed values."""
    match = _DURATION.fullmatch(text)
    if match is None:
        raise ValueError(f"invalid time {shown(text)} (seconds, or a number followed by ms or us)")
    unit = match["unit"].lower()
    if unit not in _UNITS:
        raise ValueError(f"invalid time unit {shown(match['unit'])} in {shown(text)} (use ms or us)")
    multiplier, divisor = _UNITS[unit]
    rounded = float(match["number"]) * multiplier / divisor + 0.5
    if not rounded < MAX_DURATION_MS + 1:
        raise ValueError(f"time {shown(text)} is too large")
    return int(rounded)
