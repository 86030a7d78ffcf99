"""The Heartbeat message model: an ordered, immutable list of typed fields (spec section 1.1)."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from operator import itemgetter
from typing import NamedTuple, TypeAlias


class FieldType(enum.IntEnum):
    """Wire types of a field; the digit in the `(t)` prefix."""

    STRING = 0
    BINARY = 1
    STRUCT = 2
    LIST = 3
    COMPRESS = 4


FieldValue: TypeAlias = "bytes | Message | tuple[bytes, ...]"
"""bytes for STRING, BINARY and COMPRESS; a Message for STRUCT; a tuple of bytes for LIST."""

Name: TypeAlias = str | bytes


_ENCODED_NAMES: dict[str, bytes] = {}
"""Names given as text, encoded once: code looks fields up by the same few names all the time."""
_ENCODED_NAMES_LIMIT = 1024


def _name(name: Name) -> bytes:
    if not isinstance(name, str):
        return name
    encoded = _ENCODED_NAMES.get(name)
    if encoded is None:
        encoded = name.encode("ascii")
        if len(_ENCODED_NAMES) >= _ENCODED_NAMES_LIMIT:
            _ENCODED_NAMES.clear()
        _ENCODED_NAMES[name] = encoded
    return encoded


class Field(NamedTuple):
    """One `(name, type, value)` entry of a message (a named tuple: immutable, and made at a
    quarter of a frozen dataclass's cost, several times per packet)."""

    name: bytes
    type: FieldType
    value: FieldValue


def _field(name: Name, value: FieldValue | str, type: FieldType | None) -> Field:
    if isinstance(value, str):
        value = value.encode("utf-8")
    if type is None:
        if isinstance(value, Message):
            type = FieldType.STRUCT
        elif isinstance(value, tuple):
            type = FieldType.LIST
        else:
            type = FieldType.STRING
    return Field(_name(name), type, value)


_NAME_OF = itemgetter(0)
"""A field's name (fields are named tuples)."""
_STRING, _BINARY = FieldType.STRING, FieldType.BINARY
"""Field types a lookup checks, read as module globals: quicker than through the enum class."""


class Message:
    """An ordered list of fields; lookups return the first field of a name, as Heartbeat does."""

    __slots__ = ("_fields", "_names")

    def __init__(self, fields: Iterable[Field] = ()) -> None:
        self._fields: tuple[Field, ...] = tuple(fields)
        self._names: tuple[bytes, ...] | None = None

    @classmethod
    def of(cls, *pairs: tuple[Name, FieldValue | str]) -> Message:
        """Build a message from `(name, value)` pairs; str values become STRING fields."""
        return cls(_field(name, value, None) for name, value in pairs)

    @property
    def fields(self) -> tuple[Field, ...]:
        """All fields, in wire order."""
        return self._fields

    def field(self, name: Name) -> Field | None:
        """The first field called `name`, or None."""
        names = self._names
        if names is None:
            names = self._names = tuple(map(_NAME_OF, self._fields))
        wanted = name if name.__class__ is bytes else _ENCODED_NAMES.get(name)  # type: ignore[arg-type]
        if wanted is None:
            wanted = _name(name)
        return self._fields[names.index(wanted)] if wanted in names else None

    def get(self, name: Name) -> FieldValue | None:
        """The value of the first field called `name`, or None."""
        entry = self.field(name)
        return None if entry is None else entry.value

    def text(self, name: Name) -> str | None:
        """The first STRING field called `name` as text (undecodable bytes kept as escapes)."""
        entry = self.field(name)
        if entry is None or entry.type is not _STRING:
            return None
        value: bytes = entry.value  # type: ignore[assignment]
        return value.decode("utf-8", "surrogateescape")

    def binary(self, name: Name) -> bytes | None:
        """The first BINARY field called `name`, or None."""
        entry = self.field(name)
        if entry is None or entry.type is not _BINARY:
            return None
        value: bytes = entry.value  # type: ignore[assignment]
        return value

    def with_field(self, name: Name, value: FieldValue | str, type: FieldType | None = None) -> Message:
        """A copy with `name` set: the first such field replaced in place, else appended."""
        new = _field(name, value, type)
        fields = list(self._fields)
        for position, entry in enumerate(fields):
            if entry.name == new.name:
                fields[position] = new
                return Message(fields)
        fields.append(new)
        return Message(fields)

    def with_fields(self, entries: Iterable[Field]) -> Message:
        """A copy with each of `entries` (of distinct names) set as `with_field` sets one."""
        new = {entry.name: entry for entry in entries}
        fields = [new.pop(entry.name, entry) for entry in self._fields]
        fields.extend(new.values())
        return Message(fields)

    def without(self, name: Name) -> Message:
        """A copy with every field called `name` removed."""
        unwanted = _name(name)
        return Message(entry for entry in self._fields if entry.name != unwanted)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, (str, bytes)) and self.field(name) is not None

    def __iter__(self) -> Iterator[Field]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Message) and self._fields == other._fields

    def __hash__(self) -> int:
        return hash(self._fields)

    def __repr__(self) -> str:
        shown = ", ".join(f"{f.name.decode('ascii', 'replace')}={f.value!r}" for f in self._fields)
        return f"Message({shown})"
