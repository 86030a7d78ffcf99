"""ICMP and ICMPv6 echo for the ping media: packets, replies checked, sockets that never block.

An echo socket is an unprivileged ping socket (`socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP)`,
allowed to the groups of `net.ipv4.ping_group_range`), whose identifier the kernel assigns and
whose replies it filters, or else a raw ICMP socket (root or CAP_NET_RAW), which receives every
ICMP packet of the host, IPv4 ones with their IP header. Either way every packet read is checked
here: type, code, identifier, sequence number and source, nothing else is believed.
"""

from __future__ import annotations

import itertools
import os
import socket
import struct
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

ECHO_REQUEST = {4: 8, 6: 128}
ECHO_REPLY = {4: 0, 6: 129}
"""ICMP (IPv4) and ICMPv6 echo types, by IP version."""
HEADER = struct.Struct("!BBHHH")
"""type, code, checksum, identifier, sequence number."""
SEQUENCE_WINDOW = 128
"""How many recent requests a reply may answer (Heartbeat's ping_group keeps 128 too)."""
_FAMILIES = {4: socket.AF_INET, 6: socket.AF_INET6}
_PROTOCOLS = {4: socket.IPPROTO_ICMP, 6: socket.IPPROTO_ICMPV6}
_RAW_IDENTIFIERS = itertools.count(os.getpid())


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071) of `data`."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def echo_request(family: int, identifier: int, sequence: int, payload: bytes) -> bytes:
    """An echo request of IP version `family`; ICMPv6's checksum is the kernel's to fill in."""
    header = HEADER.pack(ECHO_REQUEST[family], 0, 0, identifier, sequence)
    if family == 6:
        return header + payload
    total = checksum(header + payload)
    return HEADER.pack(ECHO_REQUEST[family], 0, total, identifier, sequence) + payload


@dataclass(frozen=True)
class EchoReply:
    """An echo reply as read: its identifier, sequence number and payload."""

    identifier: int
    sequence: int
    payload: bytes


class Rejected(Exception):
    """A packet read is not an acceptable echo reply; the text says why (a drop reason)."""


def parse_reply(packet: bytes, family: int, ip_header: bool) -> EchoReply:
    """The echo reply in `packet` (after the IPv4 header when `ip_header`), or Rejected."""
    if ip_header:
        if len(packet) < 20 or packet[0] >> 4 != 4:
            raise Rejected("truncated")
        length = (packet[0] & 0x0F) * 4
        if length < 20 or len(packet) < length:
            raise Rejected("truncated")
        packet = packet[length:]
    if len(packet) < HEADER.size:
        raise Rejected("truncated")
    kind, code, _checksum, identifier, sequence = HEADER.unpack_from(packet)
    if kind != ECHO_REPLY[family] or code != 0:
        raise Rejected("not an echo reply")
    return EchoReply(identifier, sequence, packet[HEADER.size :])


class EchoTracker:
    """The requests of one ping node still open: a reply must carry the identifier, answer a
    recent request not answered yet, and come from one of the node's addresses."""

    def __init__(self, identifier: int, addresses: Collection[str]) -> None:
        self.identifier = identifier
        self.addresses = frozenset(addresses)
        self._next = 0
        self._open: deque[int] = deque(maxlen=SEQUENCE_WINDOW)
        self._answered: deque[int] = deque(maxlen=SEQUENCE_WINDOW)

    def next_sequence(self) -> int:
        """The sequence number of a new request, remembered as open."""
        self._next = (self._next + 1) & 0xFFFF
        for recent in (self._open, self._answered):
            if self._next in recent:
                recent.remove(self._next)
        self._open.append(self._next)
        return self._next

    def accept(self, reply: EchoReply, source: str) -> None:
        """Close the request `reply` answers, or raise Rejected saying why it answers none."""
        if reply.identifier != self.identifier:
            raise Rejected("wrong identifier")
        if source not in self.addresses:
            raise Rejected("unknown source")
        if reply.sequence in self._answered:
            raise Rejected("already answered")
        if reply.sequence not in self._open:
            raise Rejected("unexpected sequence number")
        self._open.remove(reply.sequence)
        self._answered.append(reply.sequence)


@dataclass
class EchoSocket:
    """An open, non-blocking echo socket and how to read it."""

    sock: Any
    identifier: int
    ip_header: bool
    """Whether packets read start with the IPv4 header (raw IPv4 sockets)."""
    unprivileged: bool


SocketFactory = Callable[[int, int, int], Any]


def open_echo_socket(family: int, make: SocketFactory | None = None) -> EchoSocket:
    """A ping socket of IP version `family`, else a raw one; OSError naming both failures.
    `make` makes sockets (`socket.socket` by default)."""
    make = make or socket.socket
    address_family, protocol = _FAMILIES[family], _PROTOCOLS[family]
    try:
        sock = make(address_family, socket.SOCK_DGRAM, protocol)
    except OSError as ping_error:
        try:
            sock = make(address_family, socket.SOCK_RAW, protocol)
        except OSError as raw_error:
            raise OSError(
                f"cannot open an ICMP socket: ping socket: {ping_error.strerror or ping_error}"
                " (net.ipv4.ping_group_range does not include this process's group);"
                f" raw socket: {raw_error.strerror or raw_error} (needs root or CAP_NET_RAW)"
            ) from None
        sock.setblocking(False)
        identifier = next(_RAW_IDENTIFIERS) & 0xFFFF
        return EchoSocket(sock, identifier, ip_header=family == 4, unprivileged=False)
    sock.setblocking(False)
    sock.bind(("::" if family == 6 else "0.0.0.0", 0))
    return EchoSocket(sock, sock.getsockname()[1], ip_header=False, unprivileged=True)


def source_address(address: Any) -> str:
    """The address text of a `recvfrom` source, without an IPv6 scope."""
    text = str(address[0]) if isinstance(address, tuple) and address else str(address)
    return text.partition("%")[0]
