"""Bounded memos of the wire forms of single fields.

A node sends and receives the same fields again and again (`t=status`, its name and UUID, its
generation, `ttl`), so each codec remembers what it rendered or parsed for a field it met lately.
The forms are pure functions of the field (or of its bytes), so a remembered one is exactly what
rendering or parsing again would give. Nested messages are never remembered: their forms depend
on the nesting depth.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from hbtwist.wire.message import Field, FieldType, FieldValue

MEMO_LIMIT = 4096
"""Entries a memo holds before it starts again from empty (a flood of distinct fields then
costs one clearing per MEMO_LIMIT fields)."""

Key = TypeVar("Key")
Value = TypeVar("Value")


def remembered(memo: dict[Key, Value], key: Key, make: Callable[[Key, int], Value], depth: int) -> Value:
    """`memo[key]`, made by `make(key, depth)` and kept the first time."""
    value = memo.get(key)
    if value is None:
        value = make(key, depth)
        _keep(memo, key, value)
    return value


def rendered(
    memo: dict[tuple[bytes, FieldType, FieldValue], bytes],
    entry: Field,
    render: Callable[[Field, int], bytes],
    depth: int,
) -> bytes:
    """The wire form of a field at nesting `depth`: remembered unless it is a nested message."""
    if entry.type is FieldType.STRUCT:
        return render(entry, depth)
    key = (entry.name, entry.type, entry.value)
    form = memo.get(key)
    if form is None:
        form = render(entry, depth)
        _keep(memo, key, form)
    return form


def _keep(memo: dict[Key, Value], key: Key, value: Value) -> None:
    if len(memo) >= MEMO_LIMIT:
        memo.clear()
    memo[key] = value
