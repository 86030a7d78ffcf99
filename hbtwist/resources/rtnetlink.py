"""rtnetlink for interfaces, addresses and routes: pyroute2's messages, exchanged on a socket of
our own.

pyroute2 defines every message and attribute here (`ifinfmsg`, `ifaddrmsg`, `rtmsg`) and
decodes the kernel's answers (`MarshalRtnl`). The exchange is ours: one `NETLINK_ROUTE` socket
kept open, each request answered by the kernel before its `send` returns, so a call holds the
reactor for well under a millisecond; pyroute2's own sockets run an event loop per call, which
took 1-25 ms on the failover path. A refusal raises `OSError` with the kernel's errno.

Only what the native IP agent uses is here: dumps of links, addresses and routes, an address
added or deleted, a link set up, and a watch that says whether any of them changed.
"""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Callable, Iterator
from typing import Any

from pyroute2.netlink import (
    NLM_F_ACK,
    NLM_F_DUMP,
    NLM_F_DUMP_INTR,
    NLM_F_REQUEST,
    NLMSG_DONE,
    NLMSG_ERROR,
)
from pyroute2.netlink.rtnl import (
    RTM_GETADDR,
    RTM_GETLINK,
    RTM_GETROUTE,
    RTMGRP_IPV4_IFADDR,
    RTMGRP_IPV4_ROUTE,
    RTMGRP_IPV6_IFADDR,
    RTMGRP_IPV6_ROUTE,
    RTMGRP_LINK,
)
from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
from pyroute2.netlink.rtnl.marshal import MarshalRtnl
from pyroute2.netlink.rtnl.rtmsg import rtmsg

Message = Any
"""A pyroute2 netlink message (`nlmsg`): fields by name, `['header']`, `get_attr(NAME)`."""

WATCHED_GROUPS = (
    RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_IFADDR | RTMGRP_IPV6_ROUTE
)
"""The notifications of a change to any link, address or route."""

IFF_UP = 0x1
RECEIVE_SIZE = 1 << 16
TIMEOUT_S = 1.0
"""A bound on one answer, which the kernel has queued before the request's `send` returns."""
DUMP_TRIES = 3
"""A dump interrupted by a concurrent change is asked again this many times in all."""
DRAIN_LIMIT = 10_000
"""Notifications read by one `ChangeWatch.changed` call at most (the rest wait for the next)."""
_HEADER_SIZE = 16
_DUMP_MESSAGES = {RTM_GETLINK: ifinfmsg, RTM_GETADDR: ifaddrmsg, RTM_GETROUTE: rtmsg}
_MARSHAL = MarshalRtnl()


def add_address(
    family: int,
    index: int,
    ip: str,
    prefix: int,
    broadcast: str | None = None,
    label: str | None = None,
    flags: int = 0,
) -> Message:
    """The `ifaddrmsg` of `ip addr add ip/prefix [brd B] dev INDEX [label L]`."""
    message = _address(family, index, prefix)
    attrs: list[tuple[str, str | int]] = [("IFA_LOCAL", ip), ("IFA_ADDRESS", ip)]
    if broadcast is not None:
        attrs.append(("IFA_BROADCAST", broadcast))
    if label is not None:
        attrs.append(("IFA_LABEL", label))
    if flags:
        attrs.append(("IFA_FLAGS", flags))
    message["attrs"] = attrs
    return message


def delete_address(family: int, index: int, local: str, prefix: int, peer: str | None = None) -> Message:
    """The `ifaddrmsg` deleting exactly one address: its local address, and its peer (or the
    local address again) with the prefix, which the kernel matches too."""
    message = _address(family, index, prefix)
    message["attrs"] = [("IFA_LOCAL", local), ("IFA_ADDRESS", peer or local)]
    return message


def link_up(index: int) -> Message:
    """The `ifinfmsg` of `ip link set INDEX up`."""
    message = ifinfmsg()
    message["family"] = socket.AF_UNSPEC
    message["index"] = index
    message["flags"] = IFF_UP
    message["change"] = IFF_UP
    return message


def _address(family: int, index: int, prefix: int) -> Message:
    message = ifaddrmsg()
    message["family"] = family
    message["prefixlen"] = prefix
    message["index"] = index
    return message


def encode(message: Message, kind: int, flags: int, seq: int) -> bytes:
    """The request's bytes: `message` with its header filled in."""
    message["header"]["type"] = kind
    message["header"]["flags"] = flags | NLM_F_REQUEST
    message["header"]["sequence_number"] = seq
    message.encode()
    return bytes(message.data)


def parse_messages(data: bytes) -> Iterator[Message]:
    """The messages of one datagram read from the socket, decoded by pyroute2."""
    return _MARSHAL.parse(data)


def refusal(message: Message) -> OSError | None:
    """The kernel's refusal carried by an NLMSG_ERROR message; None for an acknowledgement."""
    error = message["header"].get("error")
    if error is None:
        return None
    code = abs(getattr(error, "code", None) or error.args[0])
    return OSError(code, os.strerror(code))


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

    def change(self, kind: int, flags: int, message: Message) -> None:
        """One change, acknowledged; OSError with the kernel's errno if refused."""
        seq = self._send(message, kind, flags | NLM_F_ACK)
        for answer in self._answers(seq):
            if answer["header"]["type"] == NLMSG_ERROR:
                error = refusal(answer)
                if error is not None:
                    raise error
                return

    def close(self) -> None:
        """Close the socket (it is opened again when needed)."""
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def _dump_once(self, kind: int, family: int) -> tuple[list[Message], bool]:
        request = _DUMP_MESSAGES[kind]()
        request["family"] = family
        seq = self._send(request, kind, NLM_F_DUMP)
        messages: list[Message] = []
        interrupted = False
        for answer in self._answers(seq):
            header = answer["header"]
            interrupted = interrupted or bool(header["flags"] & NLM_F_DUMP_INTR)
            if header["type"] == NLMSG_DONE:
                return messages, interrupted
            if header["type"] == NLMSG_ERROR:
                raise refusal(answer) or OSError(errno.EPROTO, "netlink dump acknowledged")
            messages.append(answer)
        return messages, interrupted

    def _open(self) -> socket.socket:
        if self._socket is None:
            self._socket = self._opener()
        return self._socket

    def _send(self, message: Message, kind: int, flags: int) -> int:
        self._seq = self._seq % 0xFFFFFFFF + 1
        self._open().send(encode(message, kind, flags, self._seq))
        return self._seq

    def _answers(self, seq: int) -> Iterator[Message]:
        """The messages answering request `seq` (anything left from an earlier one is skipped)."""
        route = self._open()
        while True:
            data, _, flags, _ = route.recvmsg(RECEIVE_SIZE)
            if flags & socket.MSG_TRUNC:
                raise OSError(errno.EMSGSIZE, "netlink answer larger than the buffer")
            for message in parse_messages(data):
                if message["header"]["sequence_number"] == seq:
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
                self._socket.recv(_HEADER_SIZE)
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
