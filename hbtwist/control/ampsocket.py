"""A blocking control-protocol client over a UNIX socket, free of Twisted, for one-shot calls.

Importing Twisted's reactor and AMP costs a short-lived `hbctl` far more than its question, so
`hbctl`'s queries and requests speak AMP here from a plain blocking socket: boxes of 16-bit
length-prefixed keys and values, an empty key ending each box (doc/control-protocol.md).
`COMMANDS` restates, without Twisted, what `hbtwist.control.protocol` defines for the commands
sent from here; a unit test holds the two equal. `connect` checks the protocol version as
`hbtwist.control.client.connect` does, and every failure reads as it does there: the same
`Unreachable` reasons, and remote errors as the same exceptions (`errors`), with the same texts.
`hbtwist.cli.oneshot` gives hbctl's commands `ControlClient`'s methods over a `Connection`.
"""

from __future__ import annotations

import _socket  # socket's C core: all a blocking client needs, without socket.py's enum set-up
import errno
import os
import struct
import time

from hbtwist.control.errors import BadRequest, UnknownLink, UnknownNode

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

PROTOCOL_VERSION = 1
"""The control protocol version this client speaks (`protocol.PROTOCOL_VERSION`)."""

MAX_KEY_LENGTH = 0xFF
MAX_VALUE_LENGTH = 0xFFFF
RECEIVE_BYTES = 1 << 16
LENGTH = struct.Struct("!H")


# The commands, as hbtwist.control.protocol defines them


class Field:
    """One argument or response value: its wire name, its type, whether it may be absent, and
    for a list of records (`items`, AMP's AmpList) the fields of each record.

    Types: `integer`, `float`, `boolean`, `text` (Unicode), `texts` (ListOf(Unicode)),
    `long text` (LongUnicode) and `items`. (Plain classes: `dataclasses` alone would cost a
    query a third of Python's start-up time.)
    """

    __slots__ = ("name", "kind", "optional", "items")

    def __init__(
        self, name: str, kind: str, optional: bool = False, items: tuple[Field, ...] = ()
    ) -> None:
        self.name = name
        self.kind = kind
        self.optional = optional
        self.items = items


def fields(spec: str) -> tuple[Field, ...]:
    """Fields written `name:kind`, a trailing `?` marking an optional one, `_` a space."""
    parsed = []
    for word in spec.split():
        name, _, kind = word.partition(":")
        optional = kind.endswith("?")
        parsed.append(Field(name, kind.rstrip("?").replace("_", " "), optional))
    return tuple(parsed)


def page(items: tuple[Field, ...]) -> tuple[Field, ...]:
    """The response of a paged command whose records have `items`."""
    return (Field("items", "items", items=items), *fields("total:integer next:integer?"))


class Command:
    """One AMP command: its name, arguments, response and the error codes it may answer."""

    __slots__ = ("name", "arguments", "response", "errors")

    def __init__(
        self,
        name: str,
        arguments: tuple[Field, ...],
        response: tuple[Field, ...],
        errors: tuple[str, ...] = (),
    ) -> None:
        self.name = name
        self.arguments = arguments
        self.response = response
        self.errors = errors


NODE_ERRORS = ("UNKNOWN_NODE", "UNKNOWN_LINK", "BAD_REQUEST")
PAGE_ARGUMENTS = fields("offset:integer? limit:integer?")
NODE_FIELDS = fields(
    "name:text type:text status:text generation:integer uuid:text? since_heartbeat:float? "
    "heartbeats:integer late_heartbeats:integer deadtime_ms:integer weight:integer site:text"
)
LINK_FIELDS = fields(
    "node:text link:text status:text since_heard:float? heard:integer transitions:integer"
)
REQUEST_RESPONSE = fields("accepted:boolean reason:text?")

VERSION = Command("Version", (), fields("protocol:integer daemon:text heartbeat:text commands:texts"))
LOCAL_STATUS = Command(
    "LocalStatus",
    (),
    fields(
        "node:text status:text generation:integer uuid:text comm_up:boolean uptime:float "
        "keepalive_ms:integer deadtime_ms:integer cluster:text"
    ),
)
NODES = Command("Nodes", PAGE_ARGUMENTS, page(NODE_FIELDS), NODE_ERRORS)
NODE = Command("Node", fields("name:text"), NODE_FIELDS, NODE_ERRORS)
LINKS = Command("Links", (*fields("node:text?"), *PAGE_ARGUMENTS), page(LINK_FIELDS), NODE_ERRORS)
PARAMETER = Command("Parameter", fields("name:text"), fields("value:text?"))
RESOURCES = Command("Resources", (), fields("hold:text"))
RESOURCE_STATUS = Command("ResourceStatus", (), fields("status:long_text"))
STANDBY = Command("Standby", fields("which:text"), REQUEST_RESPONSE, NODE_ERRORS)
TAKEOVER = Command("Takeover", fields("which:text"), REQUEST_RESPONSE, NODE_ERRORS)

COMMANDS = (
    VERSION, LOCAL_STATUS, NODES, NODE, LINKS, PARAMETER, RESOURCES, RESOURCE_STATUS, STANDBY,
    TAKEOVER,
)  # fmt: skip
"""The commands this client sends: the one-shot ones (no event or message streams)."""


# Failures, named and worded as the Twisted client's


class Unreachable(Exception):
    """No answer from the daemon: `stopped` when nothing listens, else it refused or failed."""

    def __init__(self, reason: str, *, stopped: bool = False, timeout: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.stopped = stopped
        self.timeout = timeout


class NoAnswer(Exception):
    """The daemon did not answer before the deadline."""


class TooLong(Exception):
    """A request value longer than AMP carries (`key_name` is the argument's wire name)."""

    def __init__(self, key_name: bytes, value: bytes) -> None:
        super().__init__(key_name, len(value))
        self.key_name = key_name
        self.value = value


class UnknownRemoteError(Exception):
    """An error code the command does not declare, worded as AMP words it."""

    def __init__(self, description: str) -> None:
        super().__init__(f"Code<UNKNOWN>: {description}")


class UnhandledCommand(Exception):
    """The peer does not implement the command (AMP's `UNHANDLED` code)."""


class NoEmptyBoxes(Exception):
    """The peer sent a box that is neither a question nor an answer."""


REMOTE_ERRORS: dict[str, type[Exception]] = {
    "UNKNOWN_NODE": UnknownNode,
    "UNKNOWN_LINK": UnknownLink,
    "BAD_REQUEST": BadRequest,
}


class _Lost(Exception):
    """The connection ended, or the peer sent what AMP cannot read: the same to a client."""


# Boxes


def split_box(data: bytes | bytearray, start: int = 0) -> tuple[dict[bytes, bytes], int] | None:
    """The box that begins at `start` and where it ends, or None while it is incomplete;
    ValueError for a key longer than AMP allows."""
    box: dict[bytes, bytes] = {}
    position = start
    while True:
        if position + 2 > len(data):
            return None
        (size,) = LENGTH.unpack_from(data, position)
        if size == 0:
            return box, position + 2
        if size > MAX_KEY_LENGTH:
            raise ValueError("a key longer than AMP allows")
        key_end = position + 2 + size
        if key_end + 2 > len(data):
            return None
        (value_size,) = LENGTH.unpack_from(data, key_end)
        end = key_end + 2 + value_size
        if end > len(data):
            return None
        box[bytes(data[position + 2 : key_end])] = bytes(data[key_end + 2 : end])
        position = end


def _boxes(data: bytes) -> list[dict[bytes, bytes]]:
    """The complete boxes in an AmpList value."""
    boxes = []
    position = 0
    while (found := split_box(data, position)) is not None:
        box, position = found
        boxes.append(box)
    return boxes


def _strings(data: bytes) -> list[bytes]:
    """The length-prefixed strings of a ListOf value."""
    strings = []
    position = 0
    while position + 2 <= len(data):
        (size,) = LENGTH.unpack_from(data, position)
        strings.append(data[position + 2 : position + 2 + size])
        position += 2 + size
    return strings


def _boolean(data: bytes) -> bool:
    if data in (b"True", b"False"):
        return data == b"True"
    raise TypeError(f"Bad boolean value: {data!r}")


DECODERS: dict[str, Any] = {
    "integer": int,
    "float": float,
    "boolean": _boolean,
    "text": lambda data: data.decode("utf-8"),
    "texts": lambda data: [each.decode("utf-8") for each in _strings(data)],
}


def decode(record: tuple[Field, ...], box: Mapping[bytes, bytes]) -> dict[str, Any]:
    """The values of `box`, in `record`'s order; an absent optional value is None, an absent
    required one KeyError (as AMP reads a box)."""
    values: dict[str, Any] = {}
    for field in record:
        key = field.name.encode("ascii")
        data = box.get(key) if field.optional else box[key]
        if data is None:
            values[field.name] = None
        elif field.kind == "items":
            values[field.name] = [decode(field.items, each) for each in _boxes(data)]
        elif field.kind == "long text":
            values[field.name] = _long_text(key, data, box).decode("utf-8")
        else:
            values[field.name] = DECODERS[field.kind](data)
    return values


def _long_text(key: bytes, first: bytes, box: Mapping[bytes, bytes]) -> bytes:
    """A LongUnicode value's bytes: `NAME`, then `NAME.2`, `NAME.3`... while they are there."""
    pieces = [first]
    while (piece := box.get(b"%s.%d" % (key, len(pieces) + 1))) is not None:
        pieces.append(piece)
    return b"".join(pieces)


def encode_request(command: Command, tag: bytes, arguments: Mapping[str, Any]) -> bytes:
    """One request on the wire: its arguments (an absent optional one left out), `_command` and
    `_ask` (`tag`), keys sorted as Twisted sorts them; TooLong for a value over 65,535 bytes."""
    box = {b"_command": command.name.encode("ascii"), b"_ask": tag}
    for field in command.arguments:
        value: Any = arguments.get(field.name)
        if value is not None or not field.optional:
            text = b"%d" % value if field.kind == "integer" else value.encode("utf-8")
            box[field.name.encode("ascii")] = text
    parts = []
    for key, value in sorted(box.items()):
        if len(value) > MAX_VALUE_LENGTH:
            raise TooLong(key, value)
        parts += [LENGTH.pack(len(key)), key, LENGTH.pack(len(value)), value]
    return b"".join([*parts, LENGTH.pack(0)])


# The connection


class Connection:
    """One connection to the daemon: calls, each answered before the next is sent."""

    def __init__(self, sock: _socket.socket, address: str) -> None:
        self.socket = sock
        self.address = address
        self.deadline = time.monotonic()
        """When a call still unanswered raises NoAnswer."""
        self.answered = False
        self._tag = 0
        self._received = bytearray()

    def call(self, command: Command, **arguments: Any) -> dict[str, Any]:
        """Send one request and wait for its answer, until `deadline`."""
        self._tag += 1
        tag = b"%x" % self._tag
        request = encode_request(command, tag, arguments)
        try:
            self._send(request)
            box = self._receive()
        except _Lost:
            raise self._lost() from None
        answered = box.get(b"_answer", box.get(b"_error"))
        if answered != tag:
            raise KeyError(answered)  # AMP's words for an answer to no question
        if b"_error" in box:
            raise _remote_error(command, box)
        self.answered = True
        return decode(command.response, box)

    def _send(self, data: bytes) -> None:
        self._wait_until_deadline()
        try:
            self.socket.sendall(data)
        except TimeoutError:
            raise NoAnswer from None
        except OSError as error:
            raise _Lost(str(error)) from None

    def _receive(self) -> dict[bytes, bytes]:
        """The next answer or error box (calls from the daemon, sent only to streams, skipped)."""
        box = self._next_box()
        while b"_answer" not in box and b"_error" not in box:
            if b"_command" not in box:
                raise NoEmptyBoxes(f"AmpBox({box!r})")
            box = self._next_box()
        return box

    def _next_box(self) -> dict[bytes, bytes]:
        try:
            while (found := split_box(self._received)) is None:
                self._wait_until_deadline()
                data = self.socket.recv(RECEIVE_BYTES)
                if not data:
                    raise _Lost("closed")
                self._received += data
        except TimeoutError:
            raise NoAnswer from None
        except (OSError, ValueError) as error:
            raise _Lost(str(error)) from None
        box, end = found
        del self._received[:end]
        return box

    def _wait_until_deadline(self) -> None:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise NoAnswer
        self.socket.settimeout(left)

    def _lost(self) -> Unreachable:
        if self.answered:
            return Unreachable(f"{self.address}: connection to the daemon lost")
        return Unreachable(f"{self.address}: the daemon closed the connection before answering")

    def close(self) -> None:
        """Close the connection."""
        self.socket.close()


def _remote_error(command: Command, box: Mapping[bytes, bytes]) -> Exception:
    """The exception for an `_error` answer, as Twisted's AMP makes it for this command."""
    code = box[b"_error_code"].decode("ascii", "replace")
    description = box[b"_error_description"].decode("utf-8", "replace")
    if code == "UNHANDLED":
        return UnhandledCommand(box[b"_error_code"], description)
    if code in command.errors:
        return REMOTE_ERRORS[code](description)
    return UnknownRemoteError(description)


def _connect(path: str, address: str, timeout: float) -> _socket.socket:
    """A socket connected to `path`; Unreachable, worded as the Twisted client words it."""
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    seconds, fraction = divmod(timeout, 1)
    # A full listen queue makes connect wait, at most this long (then EAGAIN).
    interval = struct.pack("@ll", int(seconds), int(fraction * 1_000_000))
    sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_SNDTIMEO, interval)
    try:
        sock.connect(path)
    except OSError as error:
        sock.close()
        raise _connect_failure(error, address) from None
    return sock


def _connect_failure(error: OSError, address: str) -> Unreachable:
    code = error.errno
    if code == errno.ECONNREFUSED:
        return Unreachable(f"{address}: nothing is listening (connection refused)", stopped=True)
    if code in (errno.EAGAIN, errno.EINPROGRESS):
        return Unreachable(f"{address}: timed out connecting", timeout=True)
    if code in (errno.ENOENT, errno.ENOTDIR):
        return Unreachable(f"{address}: no daemon listening ({os.strerror(code)})", stopped=True)
    if code in (errno.EACCES, errno.EPERM):
        return Unreachable(f"{address}: permission denied")
    detail = f"{code}: {os.strerror(code)}" if code else f"{error}"
    return Unreachable(
        f"{address}: cannot connect: An error occurred while connecting: {detail}.", stopped=True
    )


def connect(path: str, address: str, timeout: float) -> Connection:
    """A connection to the daemon's socket `path` (`address` names it in messages) whose
    protocol version was checked; the caller sets its `deadline` for the calls that follow."""
    connection = Connection(_connect(path, address, timeout), address)
    connection.deadline = time.monotonic() + timeout
    try:
        version = connection.call(VERSION)["protocol"]
    except NoAnswer:
        problem = Unreachable(f"{address}: no answer from the daemon", timeout=True)
    except UnknownRemoteError as error:
        problem = Unreachable(f"{address}: not an hbtwist control socket ({error})")
    except BaseException:
        connection.close()
        raise
    else:
        if version == PROTOCOL_VERSION:
            return connection
        problem = Unreachable(
            f"{address}: the daemon speaks control protocol {version}, "
            f"this hbctl speaks {PROTOCOL_VERSION}"
        )
    connection.close()
    raise problem
