"""rtnetlink messages for interfaces, addresses and routes: the requests `ip` sends and the
answers it reads, as bytes, and one socket that exchanges them.

Only what the native IP agent uses is here: dumps of links, addresses and routes, an address
added or deleted, a link set up. Each exchange is a request and the kernel's answer, which
rtnetlink queues before `send` returns, so it takes tens of microseconds and never waits on
the network. A refusal raises `OSError` with the kernel's errno.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass

RTM_NEWLINK = 16
RTM_GETLINK = 18
RTM_NEWADDR = 20
RTM_DELADDR = 21
RTM_GETADDR = 22
RTM_NEWROUTE = 24
RTM_GETROUTE = 26
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLM_F_DUMP_INTR = 0x10
NLM_F_DUMP = 0x300
NLM_F_EXCL = 0x200
NLM_F_CREATE = 0x400

IFLA_ADDRESS = 1
IFLA_IFNAME = 3
IFA_ADDRESS = 1
IFA_LOCAL = 2
IFA_LABEL = 3
IFA_BROADCAST = 4
IFA_FLAGS = 8
RTA_DST = 1
RTA_OIF = 4
RTA_GATEWAY = 5
RTA_PRIORITY = 6
RTA_PREFSRC = 7
RTA_TABLE = 15

RTMGRP_LINK = 0x1
RTMGRP_IPV4_IFADDR = 0x10
RTMGRP_IPV4_ROUTE = 0x40
RTMGRP_IPV6_IFADDR = 0x100
RTMGRP_IPV6_ROUTE = 0x400
WATCHED_GROUPS = (
    RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_IFADDR | RTMGRP_IPV6_ROUTE
)
"""The notifications of a change to any link, address or route."""

IFF_UP = 0x1
NLA_TYPE_MASK = 0x3FFF
"""An attribute's type without the nested and byte-order bits."""

_HEADER = struct.Struct("=IHHII")
"""nlmsghdr: length, type, flags, sequence, port."""
_ERROR = struct.Struct("=i")
LINK_HEADER = struct.Struct("=BxHiII")
"""ifinfomsg: family, type, index, flags, change."""
ADDRESS_HEADER = struct.Struct("=BBBBI")
"""ifaddrmsg: family, prefix length, flags, scope, index."""
ROUTE_HEADER = struct.Struct("=BBBBBBBBI")
"""rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags."""
_ATTR = struct.Struct("=HH")
_U32 = struct.Struct("=I")

RECEIVE_SIZE = 1 << 16
TIMEOUT_S = 1.0
"""A bound on one answer, which the kernel has queued before the request's `send` returns."""
DUMP_TRIES = 3
"""A dump interrupted by a concurrent change is asked again this many times in all."""
DRAIN_LIMIT = 10_000
"""Notifications read by one `ChangeWatch.changed` call at most (the rest wait for the next)."""


@dataclass(frozen=True)
class Message:
    """One netlink message: its header fields, its fixed part and its attributes by type."""

    type: int
    flags: int
    seq: int
    body: bytes
    """Everything after the header."""

    def header(self, layout: struct.Struct) -> tuple[int, ...]:
        """The fixed part of the body, unpacked."""
        return layout.unpack_from(self.body)

    def attributes(self, layout: struct.Struct) -> dict[int, bytes]:
        """The attributes after a fixed part of `layout`, by type (the last of a type wins)."""
        return parse_attributes(self.body, _align(layout.size))


def _align(length: int) -> int:
    return (length + 3) & ~3


def attribute(kind: int, payload: bytes) -> bytes:
    """One rtattr, padded to four bytes."""
    data = _ATTR.pack(_ATTR.size + len(payload), kind) + payload
    return data + bytes(_align(len(data)) - len(data))


def parse_attributes(data: bytes, offset: int = 0) -> dict[int, bytes]:
    """The rtattrs of `data` from `offset`, by type."""
    found = {}
    while offset + _ATTR.size <= len(data):
        length, kind = _ATTR.unpack_from(data, offset)
        if length < _ATTR.size or offset + length > len(data):
            break
        found[kind & NLA_TYPE_MASK] = data[offset + _ATTR.size : offset + length]
        offset += _align(length)
    return found


def request(kind: int, flags: int, seq: int, body: bytes) -> bytes:
    """One request message."""
    return _HEADER.pack(_HEADER.size + len(body), kind, flags | NLM_F_REQUEST, seq, 0) + body


def parse_messages(data: bytes) -> Iterator[Message]:
    """The messages of one datagram read from the socket."""
    offset = 0
    while offset + _HEADER.size <= len(data):
        length, kind, flags, seq, _port = _HEADER.unpack_from(data, offset)
        if length < _HEADER.size or offset + length > len(data):
            return
        yield Message(kind, flags, seq, data[offset + _HEADER.size : offset + length])
        offset += _align(length)


def error_code(message: Message) -> int:
    """The errno of an NLMSG_ERROR message, 0 for an acknowledgement."""
    return -_ERROR.unpack_from(message.body)[0]


def text(payload: bytes) -> str:
    """A NUL-terminated string attribute."""
    return payload.split(b"\0", 1)[0].decode(errors="replace")


def u32(payload: bytes) -> int:
    """A 32-bit attribute in host byte order."""
    return int(_U32.unpack_from(payload)[0])


def ip_text(family: int, payload: bytes) -> str:
    """An address attribute as text (IPv6 in its compressed form)."""
    return socket.inet_ntop(family, payload)


def add_address_body(
    family: int,
    index: int,
    ip: str,
    prefix: int,
    broadcast: str | None = None,
    label: str | None = None,
    flags: int = 0,
) -> bytes:
    """ifaddrmsg and attributes of `ip addr add ip/prefix [brd B] dev INDEX [label L]`."""
    packed = socket.inet_pton(family, ip)
    body = ADDRESS_HEADER.pack(family, prefix, 0, 0, index)
    body += attribute(IFA_LOCAL, packed) + attribute(IFA_ADDRESS, packed)
    if broadcast is not None:
        body += attribute(IFA_BROADCAST, socket.inet_pton(socket.AF_INET, broadcast))
    if label is not None:
        body += attribute(IFA_LABEL, label.encode() + b"\0")
    if flags:
        body += attribute(IFA_FLAGS, _U32.pack(flags))
    return body


def delete_address_body(
    family: int, index: int, local: str, prefix: int, peer: str | None = None
) -> bytes:
    """ifaddrmsg and attributes deleting exactly one address: its local address, and its peer
    (or the local address again) with the prefix, which the kernel matches too."""
    body = ADDRESS_HEADER.pack(family, prefix, 0, 0, index)
    body += attribute(IFA_LOCAL, socket.inet_pton(family, local))
    return body + attribute(IFA_ADDRESS, socket.inet_pton(family, peer or local))


def link_up_body(index: int) -> bytes:
    """ifinfomsg of `ip link set INDEX up`."""
    return LINK_HEADER.pack(socket.AF_UNSPEC, 0, index, IFF_UP, IFF_UP)


def dump_body(kind: int, family: int) -> bytes:
    """The fixed part of a dump request of links, addresses or routes of `family`."""
    if kind == RTM_GETLINK:
        return LINK_HEADER.pack(family, 0, 0, 0, 0)
    if kind == RTM_GETADDR:
        return ADDRESS_HEADER.pack(family, 0, 0, 0, 0)
    return ROUTE_HEADER.pack(family, 0, 0, 0, 0, 0, 0, 0, 0)


def open_route_socket(timeout: float = TIMEOUT_S) -> socket.socket:
    """A `NETLINK_ROUTE` socket for requests, its answers awaited at most `timeout` seconds."""
    route = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    try:
        route.settimeout(timeout)
        route.bind((0, 0))
    except OSError:
        route.close()
        raise
    return route


def open_watch_socket() -> socket.socket:
    """A non-blocking `NETLINK_ROUTE` socket that receives the link, address and route
    notifications."""
    watch = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    try:
        watch.setblocking(False)
        watch.bind((0, WATCHED_GROUPS))
    except OSError:
        watch.close()
        raise
    return watch


class RouteSocket:
    """One `NETLINK_ROUTE` socket, opened on first use and kept."""

    def __init__(self, opener: Callable[[], socket.socket] | None = None) -> None:
        self._opener = opener or open_route_socket
        self._socket: socket.socket | None = None
        self._seq = 0

    def dump(self, kind: int, family: int) -> list[Message]:
        """Every message of a dump (`RTM_GET*` with `NLM_F_DUMP`), asked again if a concurrent
        change interrupted it."""
        for _ in range(DUMP_TRIES - 1):
            messages, interrupted = self._dump_once(kind, family)
            if not interrupted:
                return messages
        return self._dump_once(kind, family)[0]

    def change(self, kind: int, flags: int, body: bytes) -> None:
        """One change, acknowledged; OSError with the kernel's errno if refused."""
        seq = self._send(kind, flags | NLM_F_ACK, body)
        for message in self._answers(seq):
            if message.type == NLMSG_ERROR:
                code = error_code(message)
                if code:
                    raise OSError(code, os.strerror(code))
                return

    def close(self) -> None:
        """Close the socket (it is opened again when needed)."""
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def _dump_once(self, kind: int, family: int) -> tuple[list[Message], bool]:
        seq = self._send(kind, NLM_F_DUMP, dump_body(kind, family))
        messages: list[Message] = []
        interrupted = False
        for message in self._answers(seq):
            interrupted = interrupted or bool(message.flags & NLM_F_DUMP_INTR)
            if message.type == NLMSG_DONE:
                return messages, interrupted
            if message.type == NLMSG_ERROR:
                code = error_code(message)
                raise OSError(code, os.strerror(code))
            messages.append(message)
        return messages, interrupted

    def _open(self) -> socket.socket:
        if self._socket is None:
            self._socket = self._opener()
        return self._socket

    def _send(self, kind: int, flags: int, body: bytes) -> int:
        self._seq = self._seq % 0xFFFFFFFF + 1
        self._open().send(request(kind, flags, self._seq, body))
        return self._seq

    def _answers(self, seq: int) -> Iterator[Message]:
        """The messages answering request `seq` (anything left from an earlier one is skipped)."""
        route = self._open()
        while True:
            data, _, flags, _ = route.recvmsg(RECEIVE_SIZE)
            if flags & socket.MSG_TRUNC:
                raise OSError(errno.EMSGSIZE, "netlink answer larger than the buffer")
            for message in parse_messages(data):
                if message.seq == seq:
                    yield message


class ChangeWatch:
    """Whether any link, address or route changed: a socket subscribed to their notifications,
    read only to be emptied. A queue that overflowed counts as a change."""

    def __init__(self, opener: Callable[[], socket.socket] | None = None) -> None:
        self._opener = opener or open_watch_socket
        self._socket: socket.socket | None = None

    def changed(self) -> bool:
        """Whether a change was notified since the last call (True on the first call, which
        starts the watch); the notifications are dropped. OSError if the socket cannot be opened."""
        if self._socket is None:
            self._socket = self._opener()
            return True
        changed = False
        for _ in range(DRAIN_LIMIT):
            try:
                self._socket.recv(_HEADER.size)
            except BlockingIOError:
                return changed
            except OSError as error:
                if error.errno != errno.ENOBUFS:
                    raise
            changed = True
        return True

    def close(self) -> None:
        """Stop watching (the next `changed` starts again)."""
        if self._socket is not None:
            self._socket.close()
            self._socket = None
