"""Creating the UDP sockets of the network media, with the options Twisted does not expose."""

from __future__ import annotations

import errno
import ipaddress
import socket
import struct

from hbtwist.media.hostinfo import interface_index
from hbtwist.media.interface import MediumUnavailable


def open_udp_socket(
    family: socket.AddressFamily, interface: str, port: int, bind_address: str | None
) -> socket.socket:
    """A non-blocking UDP socket on `port`, tied to `interface`, ready to send and receive.

    Bound to `bind_address` (several nodes on one host) or to every address with
    SO_BINDTODEVICE, so that a datagram is attributed to the medium it really came through.
    No SO_REUSEADDR: a port another process holds is refused (EADDRINUSE), never shared, so a
    second daemon cannot silently take the first one's unicast datagrams.
    """
    index = interface_index(interface)
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        if family == socket.AF_INET:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, 0x10)
        else:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        if bind_address is None:
            _bind_to_device(sock, interface)
            sock.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", port))
        elif family == socket.AF_INET6:
            sock.bind((bind_address, port, 0, index))
        else:
            sock.bind((bind_address, port))
        sock.setblocking(False)
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise MediumUnavailable(
                f"UDP port {port} on {interface} is in use by another process"
                " (another heartbeat daemon?)"
            ) from None
        raise MediumUnavailable(
            f"cannot open UDP port {port} on {interface}: {error.strerror}"
        ) from None
    except MediumUnavailable:
        sock.close()
        raise
    return sock


def _bind_to_device(sock: socket.socket, interface: str) -> None:
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, interface.encode())
    except PermissionError:
        raise MediumUnavailable(
            f"binding to interface {interface!r} needs CAP_NET_RAW; run as root or use --bind-address"
        ) from None


def join_ipv4_group(sock: socket.socket, group: str, interface: str, ttl: int, loop: bool) -> None:
    """Join a multicast group on an interface and send to it with the given ttl and loopback."""
    index = interface_index(interface)
    request = struct.pack("4s4si", socket.inet_aton(group), socket.inet_aton("0.0.0.0"), index)
    try:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, request)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, request)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, ttl)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, int(loop))
    except OSError as error:
        raise MediumUnavailable(f"cannot join {group} on {interface}: {error.strerror}") from None


def join_ipv6_group(sock: socket.socket, group: str, interface: str, hops: int, loop: bool) -> None:
    """Join an IPv6 multicast group on an interface and send to it with the given hops and loop."""
    index = interface_index(interface)
    request = ipaddress.IPv6Address(group).packed + struct.pack("@I", index)
    try:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, request)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, index)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, hops)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, int(loop))
    except OSError as error:
        raise MediumUnavailable(f"cannot join {group} on {interface}: {error.strerror}") from None
