"""The blocking control client (`hbtwist.control.ampsocket`): the same protocol as Twisted's AMP.

Its command table is checked against `hbtwist.control.protocol`, its requests against the bytes
Twisted sends, its reading of answers against Twisted's; then it talks to peers on real UNIX
sockets, each served by a thread that feeds a Twisted protocol (the real `ControlProtocol`, or
a misbehaving one) through an in-memory transport, with no reactor.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from twisted.internet.defer import Deferred
from twisted.internet.protocol import Protocol, connectionDone
from twisted.internet.testing import StringTransport
from twisted.protocols import amp

from hbtwist.control import ampsocket
from hbtwist.control import protocol as p

ALL_OPTIONALS = (True, False)


# The table against the protocol's definitions


def kind_of(argument: amp.Argument) -> str:
    """The `ampsocket.Field` kind of an AMP argument type."""
    if isinstance(argument, p.LongUnicode):
        return "long text"
    if isinstance(argument, amp.ListOf) and type(argument.elementType) is amp.Unicode:
        return "texts"
    kinds = {
        amp.Integer: "integer",
        amp.Float: "float",
        amp.Boolean: "boolean",
        amp.Unicode: "text",
        amp.AmpList: "items",
    }
    return kinds[type(argument)]


def amp_shape(arguments: list[tuple[bytes, amp.Argument]]) -> list[tuple[Any, ...]]:
    """An AMP argument list as (name, kind, optional, fields of each record) tuples."""
    return [
        (
            name.decode("ascii"),
            kind_of(argument),
            argument.optional,
            amp_shape(argument.subargs) if isinstance(argument, amp.AmpList) else [],
        )
        for name, argument in arguments
    ]


def shape(fields: tuple[ampsocket.Field, ...]) -> list[tuple[Any, ...]]:
    """`ampsocket.Field`s as (name, kind, optional, fields of each record) tuples."""
    return [(field.name, field.kind, field.optional, shape(field.items)) for field in fields]


def twisted_command(command: ampsocket.Command) -> type[amp.Command]:
    """The protocol's class of the command of that name."""
    (found,) = [each for each in p.COMMANDS if each.commandName == command.name.encode()]
    return found


@pytest.mark.parametrize("command", ampsocket.COMMANDS, ids=lambda command: command.name)
def test_table_matches_the_protocol(command: ampsocket.Command) -> None:
    """Each command's arguments, response and error codes are the protocol's, names and types."""
    definition = twisted_command(command)
    assert shape(command.arguments) == amp_shape(definition.arguments)
    assert shape(command.response) == amp_shape(definition.response)
    errors = {code.decode("ascii"): error.__name__ for error, code in definition.errors.items()}
    assert {code: ampsocket.REMOTE_ERRORS[code].__name__ for code in command.errors} == errors


def test_table_holds_the_one_shot_commands() -> None:
    """The table holds every command a client sends except the streams and message sending,
    and speaks the protocol's version with AMP's value limit."""
    streams = {"Subscribe", "Listen", "SendMessage", "SendMessages"}
    assert {command.name for command in ampsocket.COMMANDS} == {
        name for name in p.command_names() if name not in streams
    }
    assert ampsocket.PROTOCOL_VERSION == p.PROTOCOL_VERSION
    assert (ampsocket.MAX_KEY_LENGTH, ampsocket.MAX_VALUE_LENGTH) == (
        amp.MAX_KEY_LENGTH,
        amp.MAX_VALUE_LENGTH,
    )


# Bytes on the wire


def sample(field: ampsocket.Field, optionals: bool) -> Any:
    """A value for `field` (None for an optional one unless `optionals`)."""
    if field.optional and not optionals:
        return None
    values = {
        "integer": -42,
        "float": 0.125,
        "boolean": True,
        "text": "gr\u00fc\u00dfe \u2603",
        "texts": ["Version", "", "\u00e9"],
        "long text": "\u00e9" * 40_000 + "end",
    }
    if field.kind == "items":
        return [samples(field.items, True), samples(field.items, False)]
    return values[field.kind]


def samples(record: tuple[ampsocket.Field, ...], optionals: bool) -> dict[str, Any]:
    """A value for every field of `record`."""
    return {field.name: sample(field, optionals) for field in record}


@pytest.mark.parametrize("optionals", ALL_OPTIONALS, ids=["optionals", "no-optionals"])
@pytest.mark.parametrize("command", ampsocket.COMMANDS, ids=lambda command: command.name)
def test_requests_are_the_bytes_twisted_sends(command: ampsocket.Command, optionals: bool) -> None:
    """A request is byte for byte the box Twisted's AMP sends for the same call."""
    arguments = samples(command.arguments, optionals)
    box = twisted_command(command).makeArguments(dict(arguments), None)
    box.update({b"_command": command.name.encode(), b"_ask": b"1c"})
    assert ampsocket.encode_request(command, b"1c", arguments) == box.serialize()


@pytest.mark.parametrize("optionals", ALL_OPTIONALS, ids=["optionals", "no-optionals"])
@pytest.mark.parametrize("command", ampsocket.COMMANDS, ids=lambda command: command.name)
def test_answers_read_as_twisted_reads_them(command: ampsocket.Command, optionals: bool) -> None:
    """An answer Twisted's AMP writes reads as Twisted reads it: same values, same key order
    (long texts in pieces, lists of records, absent optional values as None)."""
    definition = twisted_command(command)
    box = definition.makeResponse(samples(command.response, optionals), None)
    box[b"_answer"] = b"1"
    data = box.serialize()
    found = ampsocket.split_box(data)
    assert found is not None and found[1] == len(data)
    assert ampsocket.split_box(data[:-1]) is None
    decoded = ampsocket.decode(command.response, found[0])
    expected = definition.parseResponse(box, None)
    assert decoded == expected and list(decoded) == list(expected)


def test_value_too_long_is_refused_before_sending() -> None:
    """A value over 65,535 bytes raises TooLong naming the argument, as AMP does."""
    with pytest.raises(ampsocket.TooLong) as raised:
        ampsocket.encode_request(ampsocket.NODE, b"1", {"name": "x" * 65_536})
    assert (raised.value.key_name, len(raised.value.value)) == (b"name", 65_536)
    assert len(ampsocket.encode_request(ampsocket.NODE, b"1", {"name": "x" * 65_535})) > 65_535


# Peers on a UNIX socket


class Peer:
    """A listening UNIX socket whose connections a thread serves, one at a time: each gets a
    protocol from `factory`, fed what the client sends; what it writes is sent back, and its
    `loseConnection` closes the connection."""

    def __init__(self, path: Path, factory: Callable[[], Protocol]) -> None:
        self.path = str(path)
        self.address = f"unix:{path}"
        self.factory = factory
        self.listener = socket.socket(socket.AF_UNIX)
        self.listener.bind(self.path)
        self.listener.listen(8)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            with connection:
                self._converse(connection)

    def _converse(self, connection: socket.socket) -> None:
        protocol = self.factory()
        transport = StringTransport()
        protocol.makeConnection(transport)
        while self._flush(connection, transport):
            try:
                data = connection.recv(1 << 16)
            except OSError:
                data = b""
            if not data:
                break
            protocol.dataReceived(data)
        protocol.connectionLost(connectionDone)

    def _flush(self, connection: socket.socket, transport: StringTransport) -> bool:
        """Send what the protocol wrote; False once it closed the connection."""
        try:
            connection.sendall(transport.value())
        except OSError:
            return False
        transport.clear()
        return not transport.disconnecting

    def close(self) -> None:
        """Stop listening (a pending accept returns) and wait for the thread."""
        self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self.thread.join(10)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[[Callable[[], Protocol]], Peer]]:
    """Start peers on sockets in `tmp_path`; all are stopped at the end of the test."""
    peers: list[Peer] = []

    def start(factory: Callable[[], Protocol]) -> Peer:
        peers.append(Peer(tmp_path / f"peer{len(peers)}.sock", factory))
        return peers[-1]

    yield start
    for peer in peers:
        peer.close()


VERSION_1 = {"protocol": 1, "daemon": "hbtwist 0.1.0", "heartbeat": "3.0.6", "commands": []}


class Daemon(amp.AMP):
    """A peer answering `Version` (as `version` says); `Node` as `node` says, or never."""

    version_answer = VERSION_1

    def __init__(self, node: Callable[[Daemon, str], Any] | None = None) -> None:
        super().__init__()
        self.node_answer = node

    @p.Version.responder
    def version(self) -> dict[str, Any]:
        return self.version_answer

    @p.Node.responder
    def node(self, name: str) -> Any:
        if self.node_answer is None:
            return Deferred()
        return self.node_answer(self, name)


class OtherDaemon(Daemon):
    """A daemon speaking control protocol 2."""

    version_answer = {**VERSION_1, "protocol": 2}


class Silent(Protocol):
    """Reads everything, answers nothing."""


class Hangup(Protocol):
    """Closes every connection at once."""

    def connectionMade(self) -> None:  # noqa: N802
        assert self.transport is not None
        self.transport.loseConnection()


class Garbage(Protocol):
    """Answers like a web server, then closes."""

    def connectionMade(self) -> None:  # noqa: N802
        assert self.transport is not None
        self.transport.write(b"HTTP/1.0 400 Bad Request\r\n\r\n")
        self.transport.loseConnection()


class Broken(amp.AMP):
    """Fails in its `Version` responder: AMP answers UNKNOWN, `Unknown Error`."""

    @p.Version.responder
    def version(self) -> dict[str, Any]:
        raise RuntimeError("broken")


def unreachable(peer_or_path: Peer | str, timeout: float = 5.0) -> ampsocket.Unreachable:
    """The Unreachable that connecting to a peer (or a path) raises."""
    path = peer_or_path if isinstance(peer_or_path, str) else peer_or_path.path
    with pytest.raises(ampsocket.Unreachable) as raised:
        ampsocket.connect(path, f"unix:{path}", timeout)
    return raised.value


def test_nothing_there(tmp_path: Path) -> None:
    """No socket file, a path through a file, a socket nobody listens on: the daemon stopped."""
    (tmp_path / "file").write_text("")
    bound = socket.socket(socket.AF_UNIX)
    bound.bind(str(tmp_path / "bound.sock"))
    cases = {
        "absent.sock": "no daemon listening (No such file or directory)",
        "file/x.sock": "no daemon listening (Not a directory)",
        "bound.sock": "nothing is listening (connection refused)",
        "file": "nothing is listening (connection refused)",
    }
    with bound:
        for name, reason in cases.items():
            problem = unreachable(str(tmp_path / name))
            assert (problem.reason, problem.stopped) == (f"unix:{tmp_path / name}: {reason}", True)


def test_peers_that_do_not_answer(serve: Callable[[Callable[[], Protocol]], Peer]) -> None:
    """A silent peer times out connecting; one that hangs up or speaks no AMP closed the
    connection before answering; an AMP peer failing `Version` is no hbtwist control socket."""
    silent = serve(Silent)
    started = time.monotonic()
    problem = unreachable(silent, timeout=0.3)
    assert 0.3 <= time.monotonic() - started < 5
    assert (problem.reason, problem.timeout) == (f"{silent.address}: no answer from the daemon", True)
    for factory in (Hangup, Garbage):
        peer = serve(factory)
        problem = unreachable(peer)
        reason = f"{peer.address}: the daemon closed the connection before answering"
        assert (problem.reason, problem.stopped, problem.timeout) == (reason, False, False)
    broken = serve(Broken)
    assert unreachable(broken).reason == (
        f"{broken.address}: not an hbtwist control socket (Code<UNKNOWN>: Unknown Error)"
    )


def test_other_peers(serve: Callable[[Callable[[], Protocol]], Peer]) -> None:
    """Another protocol version is refused by name; a peer without `Version` raises AMP's
    UnhandledCommand with AMP's words."""
    other = serve(OtherDaemon)
    assert unreachable(other).reason == (
        f"{other.address}: the daemon speaks control protocol 2, this hbctl speaks 1"
    )
    bare = serve(amp.AMP)
    with pytest.raises(ampsocket.UnhandledCommand) as raised:
        ampsocket.connect(bare.path, bare.address, 5)
    assert str(raised.value) == str(amp.UnhandledCommand(b"UNHANDLED", "Unhandled Command: b'Version'"))


def test_calls_after_the_version_check(serve: Callable[[Callable[[], Protocol]], Peer]) -> None:
    """After `Version`: declared errors keep the protocol's class name and text, a hang-up is a
    lost connection, and a call unanswered at the deadline raises NoAnswer."""

    def unknown(daemon: Daemon, name: str) -> dict[str, Any]:
        raise p.UnknownNode(f"no such node: {name}")

    def hang_up(daemon: Daemon, name: str) -> Deferred[dict[str, Any]]:
        assert daemon.transport is not None
        daemon.transport.loseConnection()
        return Deferred()

    peer = serve(lambda: Daemon(unknown))
    connection = ampsocket.connect(peer.path, peer.address, 5)
    with pytest.raises(ampsocket.UnknownNode, match="^no such node: d\u00e9lta$"):
        connection.call(ampsocket.NODE, name="d\u00e9lta")
    connection.close()

    peer = serve(lambda: Daemon(hang_up))
    connection = ampsocket.connect(peer.path, peer.address, 5)
    with pytest.raises(ampsocket.Unreachable) as raised:
        connection.call(ampsocket.NODE, name="beta")
    assert raised.value.reason == f"{peer.address}: connection to the daemon lost"
    connection.close()

    peer = serve(Daemon)
    connection = ampsocket.connect(peer.path, peer.address, 5)
    connection.deadline = time.monotonic() + 0.2
    with pytest.raises(ampsocket.NoAnswer):
        connection.call(ampsocket.NODE, name="beta")
    assert time.monotonic() < connection.deadline + 5
    connection.close()


class Answers(Protocol):
    """Answers every request with the same bytes."""

    answer = b""

    def dataReceived(self, data: bytes) -> None:  # noqa: N802
        assert self.transport is not None
        self.transport.write(self.answer)


class EmptyBox(Answers):
    """Answers with an empty box."""

    answer = b"\x00\x00"


class WrongTag(Answers):
    """Answers `Version` under a tag never asked."""

    answer = amp.AmpBox(
        _answer=b"99", protocol=b"1", daemon=b"d", heartbeat=b"h", commands=b""
    ).serialize()


class LongKey(Answers):
    """Answers with a key longer than AMP allows."""

    answer = b"\x01\x00" + b"k" * 256


def test_peers_speaking_broken_amp(serve: Callable[[Callable[[], Protocol]], Peer]) -> None:
    """Boxes AMP cannot use fail as they fail in Twisted's AMP: an empty box (NoEmptyBoxes), an
    answer to no question (KeyError of its tag), a key over 255 bytes (connection dropped)."""
    for factory, error, text in [
        (EmptyBox, ampsocket.NoEmptyBoxes, "AmpBox({})"),
        (WrongTag, KeyError, "b'99'"),
    ]:
        peer = serve(factory)
        with pytest.raises(error) as raised:
            ampsocket.connect(peer.path, peer.address, 5)
        assert str(raised.value) == text
    peer = serve(LongKey)
    assert (
        unreachable(peer).reason == f"{peer.address}: the daemon closed the connection before answering"
    )
