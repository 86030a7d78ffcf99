"""What a field name may contain so that both wire formats can carry it."""

from __future__ import annotations

from hbtwist.wire.errors import EncodeError

_FORBIDDEN = frozenset(b"=\n\0")


def is_valid_name(name: bytes) -> bool:
    """Whether a name is non-empty, does not start with `(` and holds no `=`, newline or NUL."""
    return bool(name) and name[0] != 0x28 and _FORBIDDEN.isdisjoint(name)


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def fold_name(name: str) -> str:
    """A node name in the form nodes are compared in: ASCII letters lower-cased, nothing else
    changed (as Heartbeat compares them; `str.lower` would also fold look-alike letters)."""
    return name.translate(_ASCII_LOWER)


def check_name(name: bytes) -> None:
    """Refuse to serialize a field whose name is not valid."""
    if not is_valid_name(name):
        raise EncodeError(f"field name {name!r} cannot be serialized")
