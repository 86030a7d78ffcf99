"""Cluster messaging for control clients: checking and queueing messages, describing deliveries.

`SendMessage` / `SendMessages` turn JSON objects of string fields into `hbtwist.wire.Message`s
and hand them to the node (`IClusterNode.submit`), which sends them in order, holding them (never
dropping them) while flow control waits for acknowledgements. `Listen` connections are fed from the
node's message listeners (every delivered message, in each sender's order) and from its
`MessagesLost` events (every hole a listener must know about). The daemon side of those
streams lives in `hbtwist.control.server`; this module holds what does not depend on a
connection, so that it can be tested without one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from hbtwist.control import protocol as p
from hbtwist.control.access import IClusterNode
from hbtwist.core.fields import parse_hex
from hbtwist.core.membership import PROTOCOL_TYPES
from hbtwist.wire import EncodeError, FieldType, Message
from hbtwist.wire.classic import classic_body
from hbtwist.wire.names import is_valid_name
from hbtwist.wire.netstring import encode_netstring

TYPE_FIELD = "t"
DEST_FIELD = "dest"

CONTROL_FIELDS = frozenset(
    {"src", "srcuuid", "seq", "hg", "ts", "ld", "ttl", "auth", "dest", "destuuid"}
)
"""Fields the daemon sets on every message it sends: a client may not set them."""

RESERVED_TYPES = PROTOCOL_TYPES
"""Sequenced types membership itself consumes (`status reqnodes repnodes shutdone`)."""

RESERVED_PREFIX = "NS_"
"""Unsequenced (core-internal) types: acknowledgements, retransmission requests."""

MAX_MESSAGE_BYTES = 60_000
"""Most bytes a message's fields may take on the wire (netstring encoding, before the control
fields): what the daemon adds still fits in one UDP datagram."""

Pairs = list[tuple[str, str]]


# Building messages from client requests


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for name, value in pairs:
        if name in seen:
            raise p.BadMessage(f"field {name!r} is given twice")
        seen[name] = value
    return seen


def _loads(text: str, what: str) -> Any:
    try:
        return json.loads(text, object_pairs_hook=_reject_duplicates)
    except p.BadMessage:
        raise
    except ValueError as error:
        raise p.BadMessage(f"{what} is not valid JSON: {error}") from None


def check_name(name: object) -> str:
    """A field name a client may set, else BadMessage saying why."""
    if not isinstance(name, str):
        raise p.BadMessage(f"field name {name!r} is not a string")
    try:
        raw = name.encode("ascii")
    except UnicodeEncodeError:
        raise p.BadMessage(f"field name {name!r} is not ASCII") from None
    if not is_valid_name(raw):
        raise p.BadMessage(
            f"field name {name!r} is not valid (empty, starts with '(' or holds '=', newline or NUL)"
        )
    if name in CONTROL_FIELDS:
        raise p.BadMessage(f"field name {name!r} is a control field the daemon sets")
    return name


def check_value(name: str, value: object) -> str:
    """A field value a client may send, else BadMessage saying why."""
    if not isinstance(value, str):
        raise p.BadMessage(f"field {name!r}: the value must be a string, not {type(value).__name__}")
    if "\0" in value:
        raise p.BadMessage(f"field {name!r}: the value holds a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise p.BadMessage(f"field {name!r}: the value is not valid Unicode") from None
    return value


def check_type(kind: object) -> str:
    """A message type a client may send, else BadMessage saying why."""
    if kind is None:
        raise p.BadMessage("the message has no type: field 't' is required")
    kind = check_value(TYPE_FIELD, kind)
    if not kind:
        raise p.BadMessage("the message type (field 't') is empty")
    if kind.startswith(RESERVED_PREFIX) or kind in RESERVED_TYPES:
        raise p.BadMessage(f"message type {kind!r} is reserved for the heartbeat protocol")
    return kind


def resolve_destination(dest: object, nodes: Iterable[str]) -> str:
    """The node name `dest` stands for (case-insensitive), else UnknownNode."""
    if not isinstance(dest, str):
        raise p.BadMessage(f"dest must be a node name, not {dest!r}")
    name = dest.lower()
    if name not in set(nodes):
        raise p.UnknownNode(f"no such node: {dest}")
    return name


def build_message(fields: Mapping[str, object], dest: object, nodes: Iterable[str]) -> Message:
    """The message a client asked for: `t` first, then the other fields in their order, then
    `dest` if any. Raises BadMessage or UnknownNode."""
    kind = check_type(fields.get(TYPE_FIELD))
    pairs: Pairs = [(TYPE_FIELD, kind)]
    for name, value in fields.items():
        if name == TYPE_FIELD:
            continue
        pairs.append((check_name(name), check_value(name, value)))
    if dest is not None:
        pairs.append((DEST_FIELD, resolve_destination(dest, nodes)))
    message = Message.of(*pairs)
    try:
        size = len(encode_netstring(message))
        classic_body(message)
    except EncodeError as error:
        raise p.BadMessage(f"the message cannot be encoded: {error}") from None
    if size > MAX_MESSAGE_BYTES:
        raise p.BadMessage(f"the message is too big: {size} bytes encoded, at most {MAX_MESSAGE_BYTES}")
    return message


def parse_message(fields: str, dest: str | None, nodes: Iterable[str]) -> Message:
    """`SendMessage`'s arguments as a message."""
    parsed = _loads(fields, "fields")
    if not isinstance(parsed, dict):
        raise p.BadMessage("fields must be a JSON object of strings")
    return build_message(parsed, dest, nodes)


def parse_batch(messages: str, nodes: Iterable[str]) -> list[Message]:
    """`SendMessages`'s argument as messages: every one is checked before any is queued."""
    parsed = _loads(messages, "messages")
    if not isinstance(parsed, list):
        raise p.BadMessage("messages must be a JSON array of objects")
    if len(parsed) > p.MAX_BATCH_MESSAGES:
        raise p.BadMessage(
            f"{len(parsed)} messages in one call; at most {p.MAX_BATCH_MESSAGES} are accepted"
        )
    names = list(nodes)
    result = []
    for index, item in enumerate(parsed):
        try:
            if not isinstance(item, dict):
                raise p.BadMessage("not a JSON object")
            fields = dict(item)
            dest = fields.pop(DEST_FIELD, None)
            result.append(build_message(fields, dest, names))
        except p.BadMessage as error:
            raise p.BadMessage(f"message {index}: {error}") from None
        except p.UnknownNode as error:
            raise p.UnknownNode(f"message {index}: {error}") from None
    return result


# Queueing


def submit(node: IClusterNode, messages: list[Message]) -> dict[str, Any]:
    """Queue `messages` in order on the node; QueueFull (nothing queued) when there is no room.

    The answer: how many were queued, how many messages now wait in the send queue, and whether
    flow control is holding them."""
    waiting = node.snapshot().queued
    if messages and waiting + len(messages) > p.MAX_SEND_QUEUE:
        raise p.QueueFull(
            f"the send queue holds {waiting} messages waiting for acknowledgements; "
            f"{len(messages)} more would exceed {p.MAX_SEND_QUEUE}"
        )
    node.submit(messages)
    after = node.snapshot()
    return {"count": len(messages), "queued": after.queued, "paused": after.paused}


# Describing deliveries


def application_fields(message: Message) -> dict[str, str]:
    """The message's own string fields (neither `t` nor control fields), first of each name,
    in wire order. Fields of other wire types (binary, struct, list) are left out."""
    fields: dict[str, str] = {}
    for entry in message:
        if entry.type is not FieldType.STRING or not isinstance(entry.value, bytes):
            continue
        name = entry.name.decode("ascii", "replace")
        if name == TYPE_FIELD or name in CONTROL_FIELDS or name in fields:
            continue
        fields[name] = entry.value.decode("utf-8", "surrogateescape")
    return fields


def message_arguments(sender: str, message: Message, now: float) -> dict[str, Any]:
    """The `ClusterMessage` arguments for one delivered message."""
    return {
        "sender": sender,
        "type": message.text(TYPE_FIELD) or "",
        "seq": parse_hex(message.text("seq")),
        "generation": parse_hex(message.text("hg")),
        "dest": message.text(DEST_FIELD),
        "time": now,
        "fields": json.dumps(application_fields(message), separators=(",", ":")),
    }


class TypeFilter:
    """Which message types a listener wants (all when empty)."""

    def __init__(self, types: Iterable[str] | None) -> None:
        self.types = frozenset(types or ())

    def __call__(self, message: Message) -> bool:
        return not self.types or (message.text(TYPE_FIELD) or "") in self.types
