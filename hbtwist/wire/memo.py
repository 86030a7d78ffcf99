"""Bounded memos of the wire forms of single fields.

A node sends and receives the same fields again and again (`t=status`, its name and UUID, its
generation, `ttl`), so each codec remembers what it rendered or parsed for a field it met lately.
The forms are pure functions of the field (or of its bytes), so a remembered one is exactly what
rendering or parsing again would give. Nested messages are never remembered: their forms depend
on the nesting depth.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from hbtwist.wire.message import Field, FieldType

MEMO_LIMIT = 4096
"""Entries a memo holds before it starts again from empty (a flood of distinct fields then
costs one clearing per MEMO_LIMIT fields)."""

Key = TypeVar("Key")
Value = TypeVar("Value")


def rendered_all(
    memo: dict[Field, bytes],
    entries: Iterable[Field],
    render: Callable[[Field, int], bytes],
    depth: int,
) -> list[bytes]:
    """The wire forms of `entries` at nesting `depth`, in order: each remembered unless it is a
    nested message (whose form depends on the depth)."""
    forms = []
    known = memo.get
    for entry in entries:
        if entry.type is FieldType.STRUCT:
            forms.append(render(entry, depth))
            continue
        form = known(entry)
        if form is None:
            form = render(entry, depth)
            keep(memo, entry, form)
        forms.append(form)
    return forms


def keep(memo: dict[Key, Value], key: Key, value: Value) -> None:
    """Remember `value` for `key`, emptying the memo first when it is full."""
    if len(memo) >= MEMO_LIMIT:
        memo.clear()
    memo[key] = value
