"""rtnetlink as the native IP speaks it: the requests `ip` would send, the kernel's answers
(built here byte by byte from the kernel's structures) decoded into links, addresses and routes,
one exchange at a time on a fake socket, and the change watch."""

from __future__ import annotations

import errno
import socket
import struct
from collections.abc import Iterable

import pytest

from hbtwist.resources import rtnetlink as rt
from hbtwist.resources.findif import Address, Link, Route
from hbtwist.resources.host import IFA_F_NOPREFIXROUTE, IFA_F_TENTATIVE
from hbtwist.resources.netlink import NetlinkHost, address_of, link_of, route_of

HEADER = struct.Struct("=IHHII")
"""nlmsghdr: length, type, flags, sequence, port."""
LINK_HEADER = struct.Struct("=BxHiII")
"""ifinfmsg: family, type, index, flags, change."""
ADDRESS_HEADER = struct.Struct("=BBBBI")
"""ifaddrmsg: family, prefix length, flags, scope, index."""
ROUTE_HEADER = struct.Struct("=BBBBBBBBI")
"""rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags."""
ATTRIBUTE = struct.Struct("=HH")
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP_INTR, NLM_F_DUMP = 0x1, 0x4, 0x10, 0x300
NLM_F_EXCL, NLM_F_CREATE = 0x200, 0x400
RTM_NEWLINK, RTM_GETLINK, RTM_NEWADDR, RTM_DELADDR, RTM_NEWROUTE = 16, 18, 20, 21, 24
IFLA_ADDRESS, IFLA_IFNAME = 1, 3
IFA_ADDRESS, IFA_LOCAL, IFA_LABEL, IFA_BROADCAST, IFA_FLAGS = 1, 2, 3, 4, 8
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_PRIORITY, RTA_PREFSRC, RTA_TABLE = 1, 4, 5, 6, 7, 15
MAC = bytes.fromhex("020000000001")


def attribute(kind: int, payload: bytes) -> bytes:
    """One rtattr, padded to four bytes."""
    data = ATTRIBUTE.pack(ATTRIBUTE.size + len(payload), kind) + payload
    return data + bytes(-len(data) % 4)


def attributes_of(data: bytes, offset: int) -> dict[int, bytes]:
    """The rtattrs of `data` from `offset`, by type."""
    found = {}
    while offset + ATTRIBUTE.size <= len(data):
        length, kind = ATTRIBUTE.unpack_from(data, offset)
        found[kind] = data[offset + ATTRIBUTE.size : offset + length]
        offset += (length + 3) & ~3
    return found


def request_body(message: rt.Message, kind: int = RTM_NEWADDR) -> bytes:
    """What a built request puts after its netlink header."""
    return rt.encode(message, kind, 0, 1)[HEADER.size :]


def decoded(kind: int, body: bytes) -> rt.Message:
    """The one message of a datagram holding `body`, as the socket decodes it."""
    (found,) = list(rt.parse_messages(message(kind, 0, body)))
    return found


def message(kind: int, seq: int, body: bytes, flags: int = 0) -> bytes:
    """One netlink message as the kernel writes it, padded to four bytes."""
    data = HEADER.pack(HEADER.size + len(body), kind, flags, seq, 0) + body
    return data + bytes(-len(data) % 4)


def error(seq: int, code: int) -> bytes:
    """An NLMSG_ERROR answer (code 0: an acknowledgement)."""
    return message(NLMSG_ERROR, seq, struct.pack("=i", -code) + bytes(16))


def link_body(index: int, name: str, kind: int = 1, flags: int = 0x1, mac: bytes = MAC) -> bytes:
    """An RTM_NEWLINK body."""
    body = LINK_HEADER.pack(socket.AF_UNSPEC, kind, index, flags, 0)
    return body + attribute(IFLA_IFNAME, name.encode() + b"\0") + attribute(IFLA_ADDRESS, mac)


class FakeSocket:
    """Answers each request with the datagrams `script` gives for its type and sequence."""

    def __init__(self, script: dict[int, list[list[bytes]]]) -> None:
        self.script = script
        self.sent: list[bytes] = []
        self.queue: list[bytes] = []
        self.closed = False

    def send(self, data: bytes) -> int:
        self.sent.append(data)
        _, kind, _, seq, _ = HEADER.unpack_from(data)
        answers = self.script[kind].pop(0)
        self.queue += [answer.replace(b"SEQ!", struct.pack("=I", seq)) for answer in answers]
        return len(data)

    def recvmsg(self, size: int) -> tuple[bytes, list[object], int, object]:
        data = self.queue.pop(0)
        return data[:size], [], socket.MSG_TRUNC if len(data) > size else 0, None

    def close(self) -> None:
        self.closed = True


def sequenced(parts: Iterable[bytes]) -> bytes:
    """Messages whose sequence number is that of the request answered (see FakeSocket)."""
    return b"".join(part[:8] + b"SEQ!" + part[12:] for part in parts)


def test_an_add_is_what_ip_addr_add_sends() -> None:
    """RTM_NEWADDR body: family, prefix, index; local and address, broadcast, label, flags."""
    add = rt.add_address(socket.AF_INET, 2, "192.0.2.50", 24, "192.0.2.255", "eth0:web", 0x200)
    body = request_body(add)
    family, prefix, flags, scope, index = ADDRESS_HEADER.unpack_from(body)
    assert (family, prefix, flags, scope, index) == (socket.AF_INET, 24, 0, 0, 2)
    attributes = attributes_of(body, ADDRESS_HEADER.size)
    assert attributes == {
        IFA_LOCAL: socket.inet_aton("192.0.2.50"),
        IFA_ADDRESS: socket.inet_aton("192.0.2.50"),
        IFA_BROADCAST: socket.inet_aton("192.0.2.255"),
        IFA_LABEL: b"eth0:web\0",
        IFA_FLAGS: struct.pack("=I", 0x200),
    }


def test_a_delete_names_the_address_its_peer_and_prefix() -> None:
    """RTM_DELADDR carries IFA_LOCAL and IFA_ADDRESS (the peer, else the local address again),
    so the kernel deletes that address and no other of the same local address."""
    body = request_body(rt.delete_address(socket.AF_INET6, 3, "2001:db8::50", 64), RTM_DELADDR)
    assert ADDRESS_HEADER.unpack_from(body) == (socket.AF_INET6, 64, 0, 0, 3)
    local = socket.inet_pton(socket.AF_INET6, "2001:db8::50")
    attributes = attributes_of(body, ADDRESS_HEADER.size)
    assert attributes == {IFA_LOCAL: local, IFA_ADDRESS: local}
    peer = request_body(rt.delete_address(socket.AF_INET, 2, "10.0.0.1", 32, "10.0.0.2"), RTM_DELADDR)
    attributes = attributes_of(peer, ADDRESS_HEADER.size)
    assert attributes[IFA_ADDRESS] == socket.inet_aton("10.0.0.2")


def test_messages_and_attributes_are_split_at_their_padding() -> None:
    """Two messages in one datagram, attributes padded to four bytes; a cut tail is dropped."""
    first = message(RTM_NEWLINK, 7, link_body(1, "lo", kind=772, flags=0x9, mac=bytes(6)))
    second = message(RTM_NEWLINK, 7, link_body(2, "eth0"))
    found = list(rt.parse_messages(first + second + b"\x30\x00"))
    headers = [(m["header"]["type"], m["header"]["sequence_number"]) for m in found]
    assert headers == [(RTM_NEWLINK, 7)] * 2
    assert [link_of(m) for m in found] == [
        Link(1, "lo", up=True, loopback=True, mac=b""),
        Link(2, "eth0", up=True, loopback=False, mac=MAC),
    ]


def test_addresses_are_decoded_as_ip_shows_them() -> None:
    """IPv4 with a peer, label and broadcast; IPv6 flags from IFA_FLAGS over the header's."""
    peer = ADDRESS_HEADER.pack(socket.AF_INET, 32, 0, 0, 2)
    peer += attribute(IFA_ADDRESS, socket.inet_aton("10.0.0.2"))
    peer += attribute(IFA_LOCAL, socket.inet_aton("10.0.0.1"))
    peer += attribute(IFA_LABEL, b"eth0:p\0")
    six = ADDRESS_HEADER.pack(socket.AF_INET6, 64, 0, 0, 2)
    six += attribute(IFA_ADDRESS, socket.inet_pton(socket.AF_INET6, "2001:db8::50"))
    six += attribute(IFA_FLAGS, struct.pack("=I", IFA_F_TENTATIVE | IFA_F_NOPREFIXROUTE))
    plain = request_body(rt.add_address(socket.AF_INET, 2, "192.0.2.11", 24, "192.0.2.255"))
    addresses = [address_of(decoded(RTM_NEWADDR, body)) for body in (peer, six, plain)]
    assert addresses == [
        Address(2, socket.AF_INET, "10.0.0.1", 32, label="eth0:p", peer="10.0.0.2"),
        Address(2, socket.AF_INET6, "2001:db8::50", 64, tentative=True),
        Address(2, socket.AF_INET, "192.0.2.11", 24, broadcast="192.0.2.255"),
    ]


def test_routes_are_decoded_with_their_table_and_interface() -> None:
    """RTA_TABLE wins over the header's table; no RTA_OIF (a multipath route) is no interface."""
    header = ROUTE_HEADER.pack(socket.AF_INET, 24, 0, 0, 254, 2, 253, 1, 0)
    direct = header + attribute(RTA_DST, socket.inet_aton("192.0.2.0"))
    direct += attribute(RTA_OIF, struct.pack("=I", 2))
    direct += attribute(RTA_PREFSRC, socket.inet_aton("192.0.2.11"))
    direct += attribute(RTA_TABLE, struct.pack("=I", 1000))
    default = ROUTE_HEADER.pack(socket.AF_INET, 0, 0, 0, 254, 3, 0, 1, 0)
    default += attribute(RTA_GATEWAY, socket.inet_aton("192.0.2.1"))
    default += attribute(RTA_PRIORITY, struct.pack("=I", 100))
    routes = [route_of(decoded(RTM_NEWROUTE, body)) for body in (direct, default)]
    assert routes == [
        Route(socket.AF_INET, "192.0.2.0", 24, 2, table=1000, prefsrc="192.0.2.11"),
        Route(socket.AF_INET, None, 0, None, scope=0, proto=3, gateway="192.0.2.1", priority=100),
    ]


def test_a_dump_gathers_every_part_and_skips_stale_answers() -> None:
    """A dump reads datagrams until NLMSG_DONE; answers to an earlier request are skipped."""
    stale = message(RTM_NEWLINK, 999, link_body(9, "old"))
    parts = [
        stale,
        sequenced([message(RTM_NEWLINK, 0, link_body(1, "lo"))]),
        sequenced([message(RTM_NEWLINK, 0, link_body(2, "eth0")), message(NLMSG_DONE, 0, b"")]),
    ]
    fake = FakeSocket({RTM_GETLINK: [parts]})
    links = rt.RouteSocket(lambda: fake).dump(RTM_GETLINK, socket.AF_UNSPEC)
    assert [link_of(m).name for m in links] == ["lo", "eth0"]
    _, kind, flags, _, _ = HEADER.unpack_from(fake.sent[0])
    assert (kind, flags) == (RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP)


def test_an_interrupted_dump_is_asked_again() -> None:
    """A dump the kernel marks NLM_F_DUMP_INTR (a change meanwhile) is read again."""
    interrupted = [
        sequenced([message(RTM_NEWLINK, 0, link_body(1, "lo"), NLM_F_DUMP_INTR)]),
        sequenced([message(NLMSG_DONE, 0, b"")]),
    ]
    whole = [sequenced([message(RTM_NEWLINK, 0, link_body(2, "eth0")), message(NLMSG_DONE, 0, b"")])]
    fake = FakeSocket({RTM_GETLINK: [interrupted, whole]})
    links = rt.RouteSocket(lambda: fake).dump(RTM_GETLINK, socket.AF_UNSPEC)
    assert [link_of(m).name for m in links] == ["eth0"] and len(fake.sent) == 2


def test_a_change_is_acknowledged_or_raises_the_kernels_errno() -> None:
    """NLMSG_ERROR 0 is success; any other code is an OSError with that errno."""
    fake = FakeSocket({RTM_NEWADDR: [[sequenced([error(0, 0)])], [sequenced([error(0, errno.EEXIST)])]]})
    route = rt.RouteSocket(lambda: fake)
    add = rt.add_address(socket.AF_INET, 2, "192.0.2.50", 24)
    route.change(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, add)
    with pytest.raises(OSError) as raised:
        route.change(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, add)
    assert raised.value.errno == errno.EEXIST
    _, kind, flags, _, _ = HEADER.unpack_from(fake.sent[0])
    wanted = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL
    body = request_body(rt.add_address(socket.AF_INET, 2, "192.0.2.50", 24))
    assert (kind, flags, fake.sent[0][HEADER.size :]) == (RTM_NEWADDR, wanted, body)


def test_an_answer_larger_than_the_buffer_is_an_error() -> None:
    """A truncated datagram is never parsed: EMSGSIZE."""
    fake = FakeSocket({RTM_GETLINK: [[b"\0" * (rt.RECEIVE_SIZE + 4)]]})
    with pytest.raises(OSError) as raised:
        rt.RouteSocket(lambda: fake).dump(RTM_GETLINK, socket.AF_UNSPEC)
    assert raised.value.errno == errno.EMSGSIZE


def test_delete_of_an_address_already_gone_is_not_an_error() -> None:
    """EADDRNOTAVAIL from RTM_DELADDR is success; another refusal is raised."""
    answers = [[sequenced([error(0, errno.EADDRNOTAVAIL)])], [sequenced([error(0, errno.EPERM)])]]
    fake = FakeSocket({RTM_DELADDR: answers})
    host = NetlinkHost(route=rt.RouteSocket(lambda: fake))
    gone = Address(2, socket.AF_INET, "192.0.2.50", 24)
    host.delete(gone)
    with pytest.raises(OSError):
        host.delete(gone)


class FakeWatch:
    """A watch socket holding queued notifications; None in the queue is an overflow."""

    def __init__(self) -> None:
        self.queue: list[bytes | None] = []

    def recv(self, size: int) -> bytes:
        if not self.queue:
            raise BlockingIOError(errno.EAGAIN, "empty")
        item = self.queue.pop(0)
        if item is None:
            raise OSError(errno.ENOBUFS, "overflow")
        return item[:size]

    def close(self) -> None:
        """Nothing to release."""


def test_the_watch_says_whether_anything_changed_and_empties_its_queue() -> None:
    """First call: True (nothing known yet); then True only after a notification or an
    overflow, and each call drops what it read."""
    fake = FakeWatch()
    watch = rt.ChangeWatch(lambda: fake)
    assert watch.changed() is True
    assert watch.changed() is False
    fake.queue += [message(RTM_NEWADDR, 0, b""), message(RTM_NEWROUTE, 0, b"")]
    assert watch.changed() is True and fake.queue == []
    assert watch.changed() is False
    fake.queue.append(None)
    assert watch.changed() is True
    assert watch.changed() is False


def test_a_real_dump_lists_the_loopback() -> None:
    """Against this namespace's kernel (read only): the links include `lo`, and its addresses
    include 127.0.0.1 when it is up."""
    host = NetlinkHost()
    try:
        tables = host.tables(socket.AF_INET, routes=True)
    finally:
        host.close()
    loopback = tables.link("lo")
    assert loopback is not None and loopback.loopback and loopback.mac == b""
    if loopback.up:
        assert any(a.local == "127.0.0.1" and a.index == loopback.index for a in tables.addresses)
