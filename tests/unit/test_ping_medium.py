"""The ping media's packet handling over fake sockets: one echo per status, replies checked by
identifier, sequence and source, hostile ICMP counted as dropped, and the socket fallback."""

from __future__ import annotations

import random
import socket
import struct
from typing import Any

import pytest

from hbtwist.config.media import PingGroupMedium, PingMedium
from hbtwist.media import icmp
from hbtwist.media.interface import MediumContext, MediumUnavailable, Outgoing
from hbtwist.media.ping import PingLink, PingMediumType
from hbtwist.media.registry import medium_types
from hbtwist.wire import Message, decode_datagram, encode_datagram
from tests.simnet import KEYRING

IDENT = 4321


class FakeSocket:
    """An echo socket: records what is sent, reads what a test queued, then would block."""

    def __init__(self, family: int, kind: int, protocol: int) -> None:
        self.family, self.kind, self.protocol = family, kind, protocol
        self.sent: list[tuple[bytes, tuple[str, int]]] = []
        self.inbox: list[tuple[bytes, tuple[str, int]]] = []
        self.closed = False

    def setblocking(self, flag: bool) -> None:
        assert flag is False

    def bind(self, address: tuple[str, int]) -> None:
        self.bound = address

    def getsockname(self) -> tuple[str, int]:
        return ("0.0.0.0", IDENT)

    def fileno(self) -> int:
        return 99

    def sendto(self, data: bytes, address: tuple[str, int]) -> int:
        self.sent.append((data, address))
        return len(data)

    def recvfrom(self, size: int) -> tuple[bytes, tuple[str, int]]:
        if not self.inbox:
            raise BlockingIOError
        return self.inbox.pop(0)

    def close(self) -> None:
        self.closed = True


class FakeReactor:
    """Just what a ping link asks of the reactor: readers."""

    def __init__(self) -> None:
        self.readers: list[Any] = []

    def addReader(self, reader: Any) -> None:  # noqa: N802
        self.readers.append(reader)

    def removeReader(self, reader: Any) -> None:  # noqa: N802
        self.readers.remove(reader)


def status(seq: int) -> Outgoing:
    """A stamped status message as the daemon hands it to every medium."""
    message = Message.of(("t", "status"), ("st", "active"), ("src", "alpha"), ("seq", f"{seq:x}"))
    message = message.with_field("ts", "65f0a1b2")
    return Outgoing(message, encode_datagram(message, KEYRING), KEYRING)


def opened(medium: PingMedium, unprivileged: bool = True) -> tuple[PingLink, list[Any], Any]:
    """A started link over a fake socket: the link, what it delivered, its socket."""
    delivered: list[tuple[bytes, str, object]] = []
    sockets: list[FakeSocket] = []

    def make(family: int, kind: int, protocol: int) -> FakeSocket:
        if kind == socket.SOCK_DGRAM and not unprivileged:
            raise PermissionError(13, "Permission denied")
        sockets.append(FakeSocket(family, kind, protocol))
        return sockets[-1]

    context = MediumContext(FakeReactor(), lambda *args: delivered.append(args), "alpha")
    link = PingLink(medium, context, make)
    link.start()
    return link, delivered, sockets[0]


def reply_to(request: bytes, **changes: int) -> bytes:
    """The echo reply a host sends to `request` (its type, identifier or sequence changed)."""
    kind, code, _, identifier, sequence = icmp.HEADER.unpack_from(request)
    fields = {"kind": 0, "identifier": identifier, "sequence": sequence, **changes}
    header = icmp.HEADER.pack(fields["kind"], code, 0, fields["identifier"], fields["sequence"])
    return header + request[icmp.HEADER.size :]


GATEWAY = PingMedium("192.0.2.1", ("192.0.2.1",))


def test_one_echo_per_status_and_none_for_its_copies_or_other_messages() -> None:
    """Each new status sends one echo request; its repeated copy and other messages send none."""
    link, _, sock = opened(GATEWAY)
    link.send(status(7))
    link.send(status(7))
    other = Message.of(("t", "resource"), ("seq", "8"))
    link.send(Outgoing(other, encode_datagram(other, KEYRING), KEYRING))
    link.send(status(9))
    assert [address for _, address in sock.sent] == [("192.0.2.1", 0)] * 2
    first = sock.sent[0][0]
    kind, code, total, identifier, sequence = icmp.HEADER.unpack_from(first)
    assert (kind, code, identifier, sequence) == (8, 0, IDENT, 1)
    assert icmp.checksum(first) == 0 and total != 0
    payload = decode_datagram(first[icmp.HEADER.size :], KEYRING)
    assert [(name, payload.text(name)) for name in ("t", "st", "info", "src", "ts")] == [
        ("t", "NS_st"),
        ("st", "ping"),
        ("info", "ping"),
        ("src", "192.0.2.1"),
        ("ts", "65f0a1b2"),
    ]


def test_a_valid_reply_is_delivered_on_the_ping_nodes_link_once() -> None:
    """The reply answering a request hands its payload to the daemon on the ping node's link;
    the same reply again is dropped."""
    link, delivered, sock = opened(GATEWAY)
    link.send(status(1))
    reply = reply_to(sock.sent[0][0])
    sock.inbox += [(reply, ("192.0.2.1", 0)), (reply, ("192.0.2.1", 0))]
    link.doRead()
    assert delivered == [(reply[icmp.HEADER.size :], "192.0.2.1", "192.0.2.1")]
    assert link.dropped == {"already answered": 1}


@pytest.mark.parametrize(
    ("make_reply", "source", "reason"),
    [
        (lambda request: reply_to(request, identifier=IDENT + 1), "192.0.2.1", "wrong identifier"),
        (lambda request: reply_to(request, sequence=77), "192.0.2.1", "unexpected sequence number"),
        (lambda request: reply_to(request), "192.0.2.66", "unknown source"),
        (lambda request: reply_to(request, kind=3), "192.0.2.1", "not an echo reply"),
        (lambda request: request, "192.0.2.1", "not an echo reply"),
        (lambda request: reply_to(request)[:7], "192.0.2.1", "truncated"),
        (lambda request: b"", "192.0.2.1", "truncated"),
    ],
)
def test_bad_replies_are_counted_and_never_delivered(make_reply: Any, source: str, reason: str) -> None:
    """A reply with the wrong identifier, sequence or source, or not an echo reply, or cut
    short, is dropped with its reason."""
    link, delivered, sock = opened(GATEWAY)
    link.send(status(1))
    sock.inbox.append((make_reply(sock.sent[0][0]), (source, 0)))
    link.doRead()
    assert delivered == []
    assert link.dropped == {reason: 1}


def test_raw_socket_replies_are_read_after_their_ip_header() -> None:
    """Without ping sockets a raw socket is used; its IPv4 header is skipped, and a header
    claiming more than the packet holds is dropped."""
    link, delivered, sock = opened(GATEWAY, unprivileged=False)
    assert sock.kind == socket.SOCK_RAW
    link.send(status(1))
    request = sock.sent[0][0]
    identifier = icmp.HEADER.unpack_from(request)[3]
    ip_header = bytes([0x45]) + bytes(19)
    sock.inbox += [
        (bytes([0x4F]) + bytes(20), ("192.0.2.1", 0)),
        (ip_header + reply_to(request, identifier=identifier), ("192.0.2.1", 0)),
    ]
    link.doRead()
    assert link.dropped == {"truncated": 1}
    assert len(delivered) == 1


def test_hostile_icmp_never_raises() -> None:
    """Thousands of random packets from anywhere: nothing raises, nothing is delivered, each
    one is counted."""
    rng = random.Random(7)
    link, delivered, sock = opened(GATEWAY, unprivileged=False)
    link.send(status(1))
    for _ in range(3000):
        size = rng.choice([0, 1, 8, 20, 27, 28, 60, 200])
        sock.inbox.append((bytes(rng.getrandbits(8) for _ in range(size)), ("192.0.2.1", 0)))
        link.doRead()
    assert delivered == []
    assert sum(link.dropped.values()) == 3000


def test_a_group_is_pinged_on_every_member_and_the_first_answer_counts() -> None:
    """ping_group sends each request to every member; one member's reply is delivered, the
    other's for the same request is dropped as already answered."""
    link, delivered, sock = opened(PingGroupMedium("uplinks", ("192.0.2.2", "192.0.2.3")))
    link.send(status(1))
    assert [address for _, address in sock.sent] == [("192.0.2.2", 0), ("192.0.2.3", 0)]
    reply = reply_to(sock.sent[0][0])
    sock.inbox += [(reply, ("192.0.2.3", 0)), (reply, ("192.0.2.2", 0))]
    link.doRead()
    assert [name for _, name, _ in delivered] == ["uplinks"]
    assert link.dropped == {"already answered": 1}


def test_a_failed_send_is_counted_not_raised() -> None:
    """sendto failing (no route) counts a send failure."""
    link, _, sock = opened(GATEWAY)

    def unreachable(data: bytes, address: tuple[str, int]) -> int:
        raise OSError(101, "Network is unreachable")

    sock.sendto = unreachable
    link.send(status(1))
    assert link.send_failures == 1


def test_stop_closes_the_socket_and_leaves_the_reactor() -> None:
    """Stopping removes the reader and closes the socket; a late read does nothing."""
    link, delivered, sock = opened(GATEWAY)
    link.stop()
    assert sock.closed and link.fileno() == -1
    link.doRead()
    assert delivered == []


def test_no_socket_kind_at_all_is_one_clear_line() -> None:
    """When neither a ping socket nor a raw socket can be opened, the reason names both."""

    def refuse(family: int, kind: int, protocol: int) -> Any:
        raise PermissionError(1, "Operation not permitted")

    with pytest.raises(OSError) as raised:
        icmp.open_echo_socket(4, refuse)
    text = str(raised.value)
    assert "ping socket: Operation not permitted" in text and "net.ipv4.ping_group_range" in text
    assert "raw socket: Operation not permitted (needs root or CAP_NET_RAW)" in text
    context = MediumContext(FakeReactor(), lambda *args: None, "alpha")
    with pytest.raises(MediumUnavailable, match="cannot open an ICMP socket"):
        PingLink(GATEWAY, context, refuse).start()


def test_host_check_fails_clearly_without_icmp(monkeypatch: pytest.MonkeyPatch) -> None:
    """The host check refuses the medium, in one line, when no echo socket can be opened."""

    def refuse(family: int, kind: int, protocol: int) -> Any:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(socket, "socket", refuse)
    with pytest.raises(MediumUnavailable, match="cannot open an ICMP socket: ping socket"):
        PingMediumType("ping").check_host(GATEWAY)


def test_the_ping_media_are_installed_plugins() -> None:
    """ping, ping6 and ping_group are found like every other medium."""
    kinds = medium_types()
    assert {"ping", "ping6", "ping_group"} <= set(kinds)
    assert kinds["ping_group"].parser.whole_line


def test_the_checksum_is_rfc_1071() -> None:
    """A packet with its checksum filled in sums to zero; odd lengths are padded."""
    packet = icmp.echo_request(4, 1, 2, b"abc")
    assert icmp.checksum(packet) == 0
    assert icmp.checksum(struct.pack("!H", 0xFFFF)) == 0
