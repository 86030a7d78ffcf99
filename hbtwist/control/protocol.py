"""The control protocol: AMP commands, their arguments and errors (doc/control-protocol.md).

This module is the public contract between the daemon and its clients. Wire names are given
explicitly (`commandName`, argument names) so that renaming a Python class never changes the
protocol. Compatible additions (a new command, a new optional field, a new event kind) keep
`PROTOCOL_VERSION`; anything a version-1 client could misread bumps it.
"""

from __future__ import annotations

from typing import Any

from twisted.protocols import amp

from hbtwist.control.errors import BadMessage, BadRequest, QueueFull, UnknownLink, UnknownNode

PROTOCOL_VERSION = 1
"""The control protocol version this code speaks (`Version` returns it)."""

DEFAULT_PAGE_LIMIT = 100
MAX_PAGE_LIMIT = 500
PAGE_BUDGET_BYTES = 60_000
"""Most bytes of items one page carries: AMP caps each value at 65,535 bytes."""


ERRORS: dict[type[Exception], bytes] = {
    UnknownNode: b"UNKNOWN_NODE",
    UnknownLink: b"UNKNOWN_LINK",
    BadRequest: b"BAD_REQUEST",
}

MESSAGE_ERRORS: dict[type[Exception], bytes] = {
    **ERRORS,
    BadMessage: b"BAD_MESSAGE",
    QueueFull: b"QUEUE_FULL",
}
"""The errors of the cluster-messaging commands."""

MAX_BATCH_MESSAGES = 1000
"""Most messages one `SendMessages` call may carry."""

BATCH_BUDGET_BYTES = 60_000
"""Most bytes of JSON a client should put in one `SendMessages` value (AMP's cap is 65,535)."""

MAX_SEND_QUEUE = 10_000
"""Messages the daemon's send queue may hold; a request that would exceed it gets QUEUE_FULL."""

NODE_FIELDS: list[tuple[bytes, amp.Argument]] = [
    (b"name", amp.Unicode()),
    (b"type", amp.Unicode()),
    (b"status", amp.Unicode()),
    (b"generation", amp.Integer()),
    (b"uuid", amp.Unicode(optional=True)),
    (b"since_heartbeat", amp.Float(optional=True)),
    (b"heartbeats", amp.Integer()),
    (b"late_heartbeats", amp.Integer()),
    (b"deadtime_ms", amp.Integer()),
    (b"weight", amp.Integer()),
    (b"site", amp.Unicode()),
]
"""One node of the membership (`Nodes` items, `Node` response)."""

LINK_FIELDS: list[tuple[bytes, amp.Argument]] = [
    (b"node", amp.Unicode()),
    (b"link", amp.Unicode()),
    (b"status", amp.Unicode()),
    (b"since_heard", amp.Float(optional=True)),
    (b"heard", amp.Integer()),
    (b"transitions", amp.Integer()),
]
"""One link: the path to one node through one medium (`Links` items)."""

PAGE_ARGUMENTS: list[tuple[bytes, amp.Argument]] = [
    (b"offset", amp.Integer(optional=True)),
    (b"limit", amp.Integer(optional=True)),
]


def page_response(fields: list[tuple[bytes, amp.Argument]]) -> list[tuple[bytes, amp.Argument]]:
    """The response of a paged command whose items have `fields`."""
    return [
        (b"items", amp.AmpList(fields)),
        (b"total", amp.Integer()),
        (b"next", amp.Integer(optional=True)),
    ]


class Version(amp.Command):
    """Protocol version, daemon version and the commands this daemon implements."""

    commandName = b"Version"
    arguments = []
    response = [
        (b"protocol", amp.Integer()),
        (b"daemon", amp.Unicode()),
        (b"heartbeat", amp.Unicode()),
        (b"commands", amp.ListOf(amp.Unicode())),
    ]


class LocalStatus(amp.Command):
    """This node: name, status, generation, uuid, comm-up, uptime and its timers."""

    commandName = b"LocalStatus"
    arguments = []
    response = [
        (b"node", amp.Unicode()),
        (b"status", amp.Unicode()),
        (b"generation", amp.Integer()),
        (b"uuid", amp.Unicode()),
        (b"comm_up", amp.Boolean()),
        (b"uptime", amp.Float()),
        (b"keepalive_ms", amp.Integer()),
        (b"deadtime_ms", amp.Integer()),
        (b"cluster", amp.Unicode()),
    ]


class Nodes(amp.Command):
    """One page of the membership, in configuration order (this node included)."""

    commandName = b"Nodes"
    arguments = PAGE_ARGUMENTS
    response = page_response(NODE_FIELDS)
    errors = ERRORS


class Node(amp.Command):
    """One node by name (case-insensitive)."""

    commandName = b"Node"
    arguments = [(b"name", amp.Unicode())]
    response = NODE_FIELDS
    errors = ERRORS


class Links(amp.Command):
    """One page of links: of one node, or of every node (node by node) when `node` is absent."""

    commandName = b"Links"
    arguments = [(b"node", amp.Unicode(optional=True)), *PAGE_ARGUMENTS]
    response = page_response(LINK_FIELDS)
    errors = ERRORS


class Parameter(amp.Command):
    """Heartbeat's `getparm`: the value of an ha.cf parameter, absent when it has none."""

    commandName = b"Parameter"
    arguments = [(b"name", amp.Unicode())]
    response = [(b"value", amp.Unicode(optional=True))]


class Resources(amp.Command):
    """Heartbeat's `getrsc` (cl_status `rscstatus`): which resources this node holds."""

    commandName = b"Resources"
    arguments = []
    response = [(b"hold", amp.Unicode())]


class Subscribe(amp.Command):
    """Start the event stream: the daemon then sends `Event` for every event, until disconnect."""

    commandName = b"Subscribe"
    arguments = []
    response = [(b"node", amp.Unicode())]


class Event(amp.Command):
    """Daemon to client: one node/link event; `fields` is a JSON object, `seq` counts from 1."""

    commandName = b"Event"
    arguments = [
        (b"seq", amp.Integer()),
        (b"kind", amp.Unicode()),
        (b"time", amp.Float()),
        (b"fields", amp.Unicode()),
    ]
    response = []
    requiresAnswer = False


class LongUnicode(amp.Unicode):
    """UTF-8 text of any length: pieces of at most 65,535 bytes under `NAME`, `NAME.2`, `NAME.3`...

    A receiver concatenates the pieces in that order (most values fit in `NAME` alone).
    """

    PIECE = amp.MAX_VALUE_LENGTH

    def toBox(  # noqa: N802
        self, name: bytes, strings: Any, objects: dict[str, Any], proto: Any
    ) -> None:
        """Write the text's UTF-8 bytes in pieces."""
        value = self.retrieve(objects, amp._wireNameToPythonIdentifier(name), proto)
        if self.optional and value is None:
            return
        data = value.encode("utf-8")
        strings[name] = data[: self.PIECE]
        for number, start in enumerate(range(self.PIECE, len(data), self.PIECE), start=2):
            strings[b"%s.%d" % (name, number)] = data[start : start + self.PIECE]

    def fromBox(  # noqa: N802
        self, name: bytes, strings: Any, objects: dict[str, Any], proto: Any
    ) -> None:
        """Join the pieces back into text."""
        first = self.retrieve(strings, name, proto)
        key = amp._wireNameToPythonIdentifier(name)
        if first is None:
            objects[key] = None
            return
        pieces = [first]
        number = 2
        while (piece := strings.pop(b"%s.%d" % (name, number), None)) is not None:
            pieces.append(piece)
            number += 1
        objects[key] = b"".join(pieces).decode("utf-8")


class SendMessage(amp.Command):
    """Queue one cluster message: `fields` is a JSON object of strings, `t` (the type) first."""

    commandName = b"SendMessage"
    arguments = [
        (b"fields", amp.Unicode()),
        (b"dest", amp.Unicode(optional=True)),
    ]
    response = [
        (b"queued", amp.Integer()),
        (b"paused", amp.Boolean()),
    ]
    errors = MESSAGE_ERRORS


class SendMessages(amp.Command):
    """Queue a batch of cluster messages, in order: a JSON array of objects (`dest` optional)."""

    commandName = b"SendMessages"
    arguments = [(b"messages", amp.Unicode())]
    response = [
        (b"count", amp.Integer()),
        (b"queued", amp.Integer()),
        (b"paused", amp.Boolean()),
    ]
    errors = MESSAGE_ERRORS


class Listen(amp.Command):
    """Start (or change) the message stream: `ClusterMessage` for every delivered message of
    `types` (every type when empty or absent), `MessageGap` for every unrecoverable gap."""

    commandName = b"Listen"
    arguments = [(b"types", amp.ListOf(amp.Unicode(), optional=True))]
    response = [(b"node", amp.Unicode())]
    errors = MESSAGE_ERRORS


class ClusterMessage(amp.Command):
    """Daemon to client: one delivered cluster message (`fields`: a JSON object)."""

    commandName = b"ClusterMessage"
    arguments = [
        (b"sender", amp.Unicode()),
        (b"type", amp.Unicode()),
        (b"seq", amp.Integer(optional=True)),
        (b"generation", amp.Integer(optional=True)),
        (b"dest", amp.Unicode(optional=True)),
        (b"time", amp.Float()),
        (b"fields", LongUnicode()),
    ]
    response = []
    requiresAnswer = False


class MessageGap(amp.Command):
    """Daemon to client: messages `first..last` of `node` will never be delivered."""

    commandName = b"MessageGap"
    arguments = [
        (b"node", amp.Unicode()),
        (b"first", amp.Integer()),
        (b"last", amp.Integer()),
        (b"reason", amp.Unicode()),
        (b"time", amp.Float()),
    ]
    response = []
    requiresAnswer = False


RESOURCE_SETS = ("all", "local", "foreign", "failback")
"""What `Standby` and `Takeover` may ask for, as `hb_standby` and `hb_takeover` take it
(`failback` is `foreign`)."""

REQUEST_RESPONSE: list[tuple[bytes, amp.Argument]] = [
    (b"accepted", amp.Boolean()),
    (b"reason", amp.Unicode(optional=True)),
]
"""The answer to `Standby` and `Takeover`: whether the request was sent, else why not."""


class Standby(amp.Command):
    """Heartbeat's `hb_standby`: ask to give this node's resources of the set `which` away."""

    commandName = b"Standby"
    arguments = [(b"which", amp.Unicode())]
    response = REQUEST_RESPONSE
    errors = ERRORS


class Takeover(amp.Command):
    """Heartbeat's `hb_takeover`: ask the other node to give up its resources of the set `which`."""

    commandName = b"Takeover"
    arguments = [(b"which", amp.Unicode())]
    response = REQUEST_RESPONSE
    errors = ERRORS


class ResourceStatus(amp.Command):
    """The resource manager at one moment: a JSON object (`status`) of every group and resource."""

    commandName = b"ResourceStatus"
    arguments = []
    response = [(b"status", LongUnicode())]


COMMANDS: tuple[type[amp.Command], ...] = (
    Version,
    LocalStatus,
    Nodes,
    Node,
    Links,
    Parameter,
    Resources,
    Subscribe,
    SendMessage,
    SendMessages,
    Listen,
    ResourceStatus,
    Standby,
    Takeover,
)
"""The commands a client may send (Event, ClusterMessage and MessageGap go the other way)."""


def command_names() -> list[str]:
    """The wire names of the commands this daemon answers, as `Version` lists them."""
    return [command.commandName.decode("ascii") for command in COMMANDS]


def item_size(fields: list[tuple[bytes, amp.Argument]], item: dict[str, Any]) -> int:
    """The bytes `item` takes inside an AmpList value of `fields` (exact AMP serialization)."""
    encoded: bytes = amp.AmpList(fields).toStringProto([item], None)
    return len(encoded)
