"""What the network media need to know about this host: interfaces, their addresses, peers.

Interface addresses come from psutil (getifaddrs); every failure is a `MediumUnavailable` whose
text is what `hbctl check` and the daemon print.
"""

from __future__ import annotations

import ipaddress
import socket

import psutil  # type: ignore[import-untyped]

from hbtwist.media.interface import MediumUnavailable


def interface_index(interface: str) -> int:
    """The index of a network interface, or MediumUnavailable naming it."""
    try:
        return socket.if_nametoindex(interface)
    except OSError:
        raise MediumUnavailable(f"no network interface {interface!r} on this host") from None


def broadcast_address(interface: str) -> str:
    """The IPv4 broadcast address of an interface, as Heartbeat's bcast sends to."""
    interface_index(interface)
    for address in psutil.net_if_addrs().get(interface, ()):
        if address.family == socket.AF_INET and address.broadcast not in (None, "0.0.0.0"):
            return str(address.broadcast)
    raise MediumUnavailable(f"interface {interface!r} has no IPv4 broadcast address")


def resolve_ipv4(peer: str) -> str:
    """The IPv4 address of a peer given by address or host name."""
    try:
        infos = socket.getaddrinfo(peer, None, socket.AF_INET, socket.SOCK_DGRAM)
    except (OSError, UnicodeError):
        raise MediumUnavailable(f"cannot resolve peer {peer!r}") from None
    return str(infos[0][4][0])


def ipv6_scope(interface: str, peer: str, scope: str | None) -> int:
    """The scope id to reach an IPv6 `peer` through `interface`: a link-local peer's `%scope`
    must name that interface (or its index)."""
    index = interface_index(interface)
    if scope is None or not ipaddress.IPv6Address(peer).is_link_local:
        return index
    scoped = int(scope) if scope.isdigit() else _index_or_none(scope)
    if scoped != index:
        raise MediumUnavailable(f"scope {scope!r} of {peer} is not interface {interface!r}")
    return index


def _index_or_none(interface: str) -> int | None:
    try:
        return socket.if_nametoindex(interface)
    except OSError:
        return None
