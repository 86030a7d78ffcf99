"""The host's interfaces, addresses and routes through rtnetlink (pyroute2), as plain data.

Each call is one short netlink exchange on a socket kept open between operations; the kernel
answers at once, so the reactor is never held for long. Errors are pyroute2's `NetlinkError`
(its `code` is the kernel's errno) and are left to the caller.
"""

from __future__ import annotations

import errno
import socket
from typing import Any, Protocol

from pyroute2 import IPRoute, NetlinkError  # type: ignore[import-untyped]

from hbtwist.resources.findif import Address, HostTables, Link, Placement, Route

IFF_UP = 0x1
IFF_LOOPBACK = 0x8
ARPHRD_ETHER = 1
IFA_F_NODAD = 0x02
IFA_F_DADFAILED = 0x08
IFA_F_TENTATIVE = 0x40
IFA_F_NOPREFIXROUTE = 0x200


class Host(Protocol):
    """What the native IP agent asks of the host."""

    def tables(self, family: int, routes: bool = True) -> HostTables:
        """Every link, and the addresses and (unless `routes` is false) routes of `family`."""

    def add(self, ip: str, placement: Placement, flags: int) -> None:
        """Add `ip` as `placement` says, with `IFA_F_*` flags."""

    def delete(self, address: Address) -> None:
        """Delete one address."""

    def set_up(self, link: Link) -> None:
        """Bring a link up."""


class NetlinkHost:
    """`Host` on this machine's rtnetlink, through one pyroute2 `IPRoute` opened on first use."""

    def __init__(self) -> None:
        self._route: Any = None

    def _socket(self) -> Any:
        if self._route is None:
            self._route = IPRoute()
        return self._route

    def tables(self, family: int, routes: bool = True) -> HostTables:
        """Every link, and the addresses and (unless `routes` is false) routes of `family`, in
        the kernel's order."""
        netlink = self._socket()
        return HostTables(
            links=tuple(_link(message) for message in netlink.get_links()),
            addresses=tuple(_address(message) for message in netlink.get_addr(family=family)),
            routes=tuple(_route(message) for message in netlink.get_routes(family=family))
            if routes
            else (),
        )

    def add(self, ip: str, placement: Placement, flags: int) -> None:
        """`ip addr add ip/prefix [brd B] dev NIC [label L]`."""
        arguments: dict[str, Any] = {
            "index": placement.link.index,
            "address": ip,
            "prefixlen": placement.prefix,
        }
        if placement.broadcast is not None:
            arguments["broadcast"] = placement.broadcast
        if placement.label is not None:
            arguments["label"] = placement.label
        if flags:
            arguments["flags"] = flags
        self._socket().addr("add", **arguments)

    def delete(self, address: Address) -> None:
        """`ip addr del local/prefix dev NIC`; an address already gone is not an error."""
        try:
            self._socket().addr(
                "del", index=address.index, address=address.local, prefixlen=address.prefix
            )
        except NetlinkError as error:
            if error.code != errno.EADDRNOTAVAIL:
                raise

    def set_up(self, link: Link) -> None:
        """`ip link set NIC up`."""
        self._socket().link("set", index=link.index, state="up")

    def close(self) -> None:
        """Close the netlink socket (it is opened again when needed)."""
        if self._route is not None:
            self._route.close()
            self._route = None


def _link(message: Any) -> Link:
    flags = message["flags"]
    mac = b""
    hardware = message.get_attr("IFLA_ADDRESS")
    if message["ifi_type"] == ARPHRD_ETHER and hardware:
        mac = bytes.fromhex(hardware.replace(":", ""))
    return Link(
        index=message["index"],
        name=message.get_attr("IFLA_IFNAME"),
        up=bool(flags & IFF_UP),
        loopback=bool(flags & IFF_LOOPBACK),
        mac=mac,
    )


def _address(message: Any) -> Address:
    family = message["family"]
    address = message.get_attr("IFA_ADDRESS")
    local = message.get_attr("IFA_LOCAL") or address
    flags = message.get_attr("IFA_FLAGS")
    if flags is None:
        flags = message["flags"]
    return Address(
        index=message["index"],
        family=family,
        local=local,
        prefix=message["prefixlen"],
        label=message.get_attr("IFA_LABEL"),
        broadcast=message.get_attr("IFA_BROADCAST"),
        peer=address if family == socket.AF_INET and address != local else None,
        tentative=bool(flags & IFA_F_TENTATIVE),
        dadfailed=bool(flags & IFA_F_DADFAILED),
    )


def _route(message: Any) -> Route:
    return Route(
        family=message["family"],
        dst=message.get_attr("RTA_DST"),
        dst_len=message["dst_len"],
        oif=message.get_attr("RTA_OIF"),
        table=message.get_attr("RTA_TABLE") or message["table"],
        type=message["type"],
        scope=message["scope"],
        proto=message["proto"],
        prefsrc=message.get_attr("RTA_PREFSRC"),
        gateway=message.get_attr("RTA_GATEWAY"),
        priority=message.get_attr("RTA_PRIORITY") or 0,
    )
