"""Templates of a message sent again and again with only a few fields changed.

A node sends its status at every keepalive, and from one to the next only `seq` changes (and
now and then `ts` and `ld`). A template renders the other fields once in both wire formats, so
filling it in costs a few concatenations and the signatures, and gives byte for byte what
signing the inner `auth` and encoding the whole message would give.
"""

from __future__ import annotations

from collections.abc import Sequence

from hbtwist.wire import classic, netstring
from hbtwist.wire.auth import Keyring
from hbtwist.wire.datagram import EncodedMessage, signed_datagram
from hbtwist.wire.message import Field, FieldType, Message


class MessageTemplate:
    """A message whose fields are fixed but for a few STRING fields, the slots."""

    def __init__(
        self, fields: Sequence[Field], slots: Sequence[bytes], keyring: Keyring, *, inner_auth: bool
    ) -> None:
        """`fields` in wire order; `slots` names the fields (STRING, each name once) that `fill`
        replaces. With `inner_auth` the filled message ends with the inner `auth` field that
        `sign_inner` would set. Raises `EncodeError` if the fields cannot be encoded."""
        names = [entry.name for entry in fields]
        positions = []
        for slot in slots:
            if names.count(slot) != 1 or fields[names.index(slot)].type is not FieldType.STRING:
                raise ValueError(f"slot {slot!r} is not one STRING field of the message")
            positions.append(names.index(slot))
        if inner_auth and classic.AUTH in names:
            raise ValueError("a message signed inside must not hold an auth field already")
        if positions != sorted(positions):
            raise ValueError("slots must be named in wire order")
        self.keyring = keyring
        self.inner_auth = inner_auth
        self._fields = list(fields)
        self._slots = tuple(zip(positions, slots, strict=True))
        bounds = zip([-1, *positions], [*positions, len(fields)], strict=True)
        runs = [fields[start + 1 : stop] for start, stop in bounds]
        self._classic_runs = [classic.classic_body(Message(run)) for run in runs]
        self._netstring_runs = [_netstring_elements(run) for run in runs]
        self._netstring_runs[0] = netstring.START + self._netstring_runs[0]
        self._forms: list[tuple[bytes | None, bytes, bytes]] = [(None, b"", b"")] * len(slots)

    def fill(self, values: Sequence[Field]) -> EncodedMessage:
        """The message with the slots' fields replaced by `values` (in slot order), carrying
        its datagram."""
        fields = self._fields.copy()
        classic_runs, netstring_runs = self._classic_runs, self._netstring_runs
        classic_parts = [classic_runs[0]]
        netstring_parts = [netstring_runs[0]]
        for index, ((position, name), entry) in enumerate(zip(self._slots, values, strict=True)):
            if entry.name != name or entry.type is not FieldType.STRING:
                raise ValueError(f"field {entry.name!r} does not fill slot {name!r}")
            fields[position] = entry
            classic_form, netstring_form = self._forms_of(index, entry)
            classic_parts += (classic_form, classic_runs[index + 1])
            netstring_parts += (netstring_form, netstring_runs[index + 1])
        if self.inner_auth:
            authstr = self.keyring.sign(b"".join(classic_parts))
            fields.append(Field(classic.AUTH, FieldType.STRING, authstr))
            netstring_parts.append(netstring.string_element(classic.AUTH, authstr))
        netstring_parts.append(netstring.END)
        datagram = signed_datagram(b"".join(netstring_parts), self.keyring)
        return EncodedMessage(fields, self.keyring, datagram)

    def _forms_of(self, index: int, entry: Field) -> tuple[bytes, bytes]:
        """A slot field's classic line and netstring element, kept while its value repeats."""
        value = entry.value
        assert isinstance(value, bytes)
        kept, classic_form, netstring_form = self._forms[index]
        if value != kept:
            classic_form = classic.string_line(entry.name, value)
            netstring_form = netstring.string_element(entry.name, value)
            self._forms[index] = (value, classic_form, netstring_form)
        return classic_form, netstring_form


def _netstring_elements(fields: Sequence[Field]) -> bytes:
    """The netstring elements of `fields`, without the message's start and end markers."""
    encoded = netstring.encode_netstring(Message(fields))
    return encoded[len(netstring.START) : -len(netstring.END)]
