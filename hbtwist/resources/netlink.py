"""The host's interfaces, addresses and routes through rtnetlink, as plain data.

Each call is one short exchange on a netlink socket kept open between operations
(`hbtwist.resources.rtnetlink`, pyroute2's messages); the kernel answers at once, so the reactor
is held for well under a millisecond. Errors are `OSError`s carrying the kernel's errno and are
left to the caller.
"""

from __future__ import annotations

import errno
import socket

from pyroute2.netlink import NLM_F_CREATE, NLM_F_EXCL
from pyroute2.netlink.rtnl import (
    RTM_DELADDR,
    RTM_GETADDR,
    RTM_GETLINK,
    RTM_GETROUTE,
    RTM_NEWADDR,
    RTM_NEWLINK,
)

from hbtwist.resources import rtnetlink as rt
from hbtwist.resources.findif import Address, HostTables, Link, Placement, Route
from hbtwist.resources.host import IFA_F_DADFAILED, IFA_F_TENTATIVE

IFF_UP = 0x1
IFF_LOOPBACK = 0x8
ARPHRD_ETHER = 1


class NetlinkHost:
    """`Host` on this machine's rtnetlink, through one socket opened on first use, and one that
    hears of changes."""

    def __init__(self, route: rt.RouteSocket | None = None, watch: rt.ChangeWatch | None = None) -> None:
        self._route = route or rt.RouteSocket()
        self._watch = watch or rt.ChangeWatch()

    def tables(self, family: int, routes: bool = True) -> HostTables:
        """Every link, and the addresses and (unless `routes` is false) routes of `family`, in
        the kernel's order."""
        links = self._route.dump(RTM_GETLINK, socket.AF_UNSPEC)
        addresses = self._route.dump(RTM_GETADDR, family)
        return HostTables(
            links=tuple(link_of(message) for message in links),
            addresses=tuple(address_of(message) for message in addresses),
            routes=tuple(route_of(message) for message in self._route.dump(RTM_GETROUTE, family))
            if routes
            else (),
        )

    def add(self, ip: str, placement: Placement, flags: int) -> None:
        """`ip addr add ip/prefix [brd B] dev NIC [label L]`; OSError(EEXIST) when the
        interface has it already."""
        family = socket.AF_INET6 if ":" in ip else socket.AF_INET
        message = rt.add_address(
            family,
            placement.link.index,
            ip,
            placement.prefix,
            placement.broadcast,
            placement.label,
            flags,
        )
        self._route.change(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, message)

    def delete(self, address: Address) -> None:
        """`ip addr del local/prefix [peer P] dev NIC`; an address already gone is not an error."""
        message = rt.delete_address(
            address.family, address.index, address.local, address.prefix, address.peer
        )
        try:
            self._route.change(RTM_DELADDR, 0, message)
        except OSError as error:
            if error.errno != errno.EADDRNOTAVAIL:
                raise

    def set_up(self, link: Link) -> None:
        """`ip link set NIC up`."""
        self._route.change(RTM_NEWLINK, 0, rt.link_up(link.index))

    def changed(self) -> bool:
        """Whether a link, address or route changed since the last call (the first call: True)."""
        return self._watch.changed()

    def close(self) -> None:
        """Close the netlink sockets (they are opened again when needed)."""
        self._route.close()
        self._watch.close()


def link_of(message: rt.Message) -> Link:
    """A link of a `RTM_NEWLINK` message."""
    flags = message["flags"]
    hardware = message.get_attr("IFLA_ADDRESS") or ""
    mac = bytes.fromhex(hardware.replace(":", ""))
    return Link(
        index=message["index"],
        name=message.get_attr("IFLA_IFNAME") or "",
        up=bool(flags & IFF_UP),
        loopback=bool(flags & IFF_LOOPBACK),
        mac=mac if message["ifi_type"] == ARPHRD_ETHER and len(mac) == 6 else b"",
    )


def address_of(message: rt.Message) -> Address:
    """An address of a `RTM_NEWADDR` message."""
    family = message["family"]
    address = message.get_attr("IFA_ADDRESS")
    local = message.get_attr("IFA_LOCAL") or address
    flags = message.get_attr("IFA_FLAGS")
    flags = message["flags"] if flags is None else flags
    return Address(
        index=message["index"],
        family=family,
        local=local or "",
        prefix=message["prefixlen"],
        label=message.get_attr("IFA_LABEL"),
        broadcast=message.get_attr("IFA_BROADCAST"),
        peer=address if family == socket.AF_INET and address != local else None,
        tentative=bool(flags & IFA_F_TENTATIVE),
        dadfailed=bool(flags & IFA_F_DADFAILED),
    )


def route_of(message: rt.Message) -> Route:
    """A route of a `RTM_NEWROUTE` message."""
    table = message.get_attr("RTA_TABLE")
    return Route(
        family=message["family"],
        dst=message.get_attr("RTA_DST"),
        dst_len=message["dst_len"],
        oif=message.get_attr("RTA_OIF"),
        table=message["table"] if table is None else table,
        type=message["type"],
        scope=message["scope"],
        proto=message["proto"],
        prefsrc=message.get_attr("RTA_PREFSRC"),
        gateway=message.get_attr("RTA_GATEWAY"),
        priority=message.get_attr("RTA_PRIORITY") or 0,
    )
