"""Creating the UDP sockets of the network media, with the options Twisted does not expose."""

from __future__ import annotations

import fcntl
import ipaddress
import socket
import struct

SIOCGIFBRDADDR = 0x8919
SIOCGIFADDR = 0x8915
_IFREQ = "16s16x"


class MediumUnavailable(Exception):
    """A configured medium cannot be opened on this host (missing interface, address, device)."""


def interface_index(interface: str) -> int:
    """The index of a network interface, or MediumUnavailable naming it."""
    try:
        return socket.if_nametoindex(interface)
    except OSError:
        raise MediumUnavailable(f"no network interface {interface!r} on this host") from None


def _ifreq_address(interface: str, request: int, what: str) -> str:
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        reply = fcntl.ioctl(probe.fileno(), request, struct.pack(_IFREQ, interface.encode()[:15]))
    except OSError:
        raise MediumUnavailable(f"interface {interface!r} has no IPv4 {what}") from None
    finally:
        probe.close()
    return socket.inet_ntoa(reply[20:24])


def broadcast_address(interface: str) -> str:
    """The IPv4 broadcast address of an interface (SIOCGIFBRDADDR), as Heartbeat's bcast uses."""
    interface_index(interface)
    address = _ifreq_address(interface, SIOCGIFBRDADDR, "broadcast address")
    if address == "0.0.0.0":
        raise MediumUnavailable(f"interface {interface!r} has no IPv4 broadcast address")
    return address


def interface_address(interface: str) -> str:
    """The primary IPv4 address of an interface."""
    interface_index(interface)
    return _ifreq_address(interface, SIOCGIFADDR, "address")


def open_udp_socket(
    family: socket.AddressFamily, interface: str, port: int, bind_address: str | None
) -> socket.socket:
    """A non-blocking UDP socket on `port`, tied to `interface`, ready to send and receive.

    Bound to `bind_address` (several nodes on one host) or to every address with
    SO_BINDTODEVICE, so that a datagram is attributed to the medium it really came through.
    """
    index = interface_index(interface)
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
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
        raise MediumUnavailable(
            f"cannot open UDP port {port} on {interface}: {error.strerror}"
        ) from None
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
