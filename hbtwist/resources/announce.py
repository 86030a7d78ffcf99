"""Telling the LAN an address moved: gratuitous ARP (IPv4), unsolicited neighbour advertisement (IPv6).

The packets are those of Heartbeat's `send_arp` and `send_ua`. For IPv4 each announcement is an
ARP request and an ARP reply, both broadcast, sender and target protocol address the virtual
address (the request's target hardware address zero, the reply's our own), since some hosts
heed only one kind. For IPv6 it is a neighbour advertisement to ff02::1 with the override flag
and our link-layer address, hop limit 255, from the virtual address. Both need root (raw
sockets); a socket that cannot be opened or a send that fails raises `OSError`.

`Announcer` sends the first announcement at once, the others on the injected clock.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable
from typing import Protocol

from twisted.internet.interfaces import IDelayedCall, IReactorTime

ETH_P_ARP = 0x0806
BROADCAST_MAC = b"\xff" * 6
ARP_REQUEST = 1
ARP_REPLY = 2
ND_NEIGHBOR_ADVERT = 136
ND_NA_FLAG_OVERRIDE = 0x20
ND_OPT_TARGET_LINKADDR = 2
ALL_NODES = "ff02::1"


def arp_frame(mac: bytes, ip: str, operation: int) -> bytes:
    """One broadcast Ethernet frame carrying a gratuitous ARP request or reply for `ip`."""
    address = socket.inet_aton(ip)
    target_mac = mac if operation == ARP_REPLY else bytes(6)
    header = BROADCAST_MAC + mac + struct.pack("!H", ETH_P_ARP)
    arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, operation)
    return header + arp + mac + address + target_mac + address


def neighbour_advertisement(mac: bytes, ip: str) -> bytes:
    """An ICMPv6 neighbour advertisement for `ip` (the kernel fills in the checksum)."""
    body = struct.pack("!BBHB3x", ND_NEIGHBOR_ADVERT, 0, 0, ND_NA_FLAG_OVERRIDE)
    target = socket.inet_pton(socket.AF_INET6, ip)
    option = struct.pack("!BB", ND_OPT_TARGET_LINKADDR, 1) + mac
    return body + target + option


class Sender(Protocol):
    """Sends one announcement per call."""

    def send(self) -> None:
        """Send one announcement; OSError if it could not be sent."""

    def close(self) -> None:
        """Release the socket."""


class ArpSender:
    """Gratuitous ARP on one interface through an `AF_PACKET` socket bound to it."""

    def __init__(self, interface: str, mac: bytes, ip: str) -> None:
        self._frames = (arp_frame(mac, ip, ARP_REQUEST), arp_frame(mac, ip, ARP_REPLY))
        self._socket = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        try:
            self._socket.setblocking(False)
            self._socket.bind((interface, 0))
        except OSError:
            self._socket.close()
            raise

    def send(self) -> None:
        """An ARP request, then an ARP reply."""
        for frame in self._frames:
            self._socket.send(frame)

    def close(self) -> None:
        """Close the socket."""
        self._socket.close()


class NeighbourSender:
    """Unsolicited neighbour advertisements to all nodes through a raw ICMPv6 socket."""

    def __init__(self, index: int, mac: bytes, ip: str) -> None:
        self._packet = neighbour_advertisement(mac, ip)
        self._destination = (ALL_NODES, 0, 0, index)
        self._socket = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
        try:
            self._socket.setblocking(False)
            self._socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
            self._socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, index)
            self._socket.bind((ip, 0, 0, index))
        except OSError:
            self._socket.close()
            raise

    def send(self) -> None:
        """One neighbour advertisement."""
        self._socket.sendto(self._packet, self._destination)

    def close(self) -> None:
        """Close the socket."""
        self._socket.close()


class Announcer:
    """`count` announcements `interval_ms` apart, the first one when `start` is called.

    The sender stays open afterwards: closing an `AF_PACKET` socket waits for an RCU grace
    period (tens of milliseconds under load), which the reactor must not sit through.
    """

    def __init__(
        self,
        clock: IReactorTime,
        sender: Sender,
        count: int,
        interval_ms: int,
        failed: Callable[[OSError], None],
    ) -> None:
        self._clock = clock
        self._sender = sender
        self._left = count
        self._interval = interval_ms / 1000
        self._failed = failed
        """Told when a later announcement could not be sent (the rest are then dropped)."""
        self._call: IDelayedCall | None = None

    @property
    def pending(self) -> bool:
        """Whether announcements are still to be sent."""
        return self._call is not None

    def start(self) -> None:
        """Send the first announcement now and schedule the others; OSError if the first fails
        (nothing is then scheduled)."""
        self._send()

    def cancel(self) -> None:
        """Drop the announcements not sent yet."""
        if self._call is not None:
            self._call.cancel()
            self._call = None

    def _send(self) -> None:
        if self._left <= 0:
            return
        self._left -= 1
        self._sender.send()
        if self._left > 0:
            self._call = self._clock.callLater(self._interval, self._next)

    def _next(self) -> None:
        self._call = None
        try:
            self._send()
        except OSError as error:
            self._failed(error)
