"""The host's interfaces, addresses and routes through rtnetlink, as plain data.

Each call is one short exchange on a netlink socket kept open between operations
(`hbtwist.resources.rtnetlink`); the kernel answers at once, so the reactor is held for tens of
microseconds. Errors are `OSError`s carrying the kernel's errno and are left to the caller.
"""

from __future__ import annotations

import errno
import socket
from typing import Protocol

from hbtwist.resources import rtnetlink as rt
from hbtwist.resources.findif import Address, HostTables, Link, Placement, Route

IFF_UP = 0x1
IFF_LOOPBACK = 0x8
ARPHRD_ETHER = 1
ETHER_LENGTH = 6
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

    def changed(self) -> bool:
        """Whether a link, address or route may have changed since the last call (the first
        call: True)."""


class NetlinkHost:
    """`Host` on this machine's rtnetlink, through one socket opened on first use, and one that
    hears of changes."""

    def __init__(self, route: rt.RouteSocket | None = None, watch: rt.ChangeWatch | None = None) -> None:
        self._route = route or rt.RouteSocket()
        self._watch = watch or rt.ChangeWatch()

    def tables(self, family: int, routes: bool = True) -> HostTables:
        """Every link, and the addresses and (unless `routes` is false) routes of `family`, in
        the kernel's order."""
        links = self._route.dump(rt.RTM_GETLINK, socket.AF_UNSPEC)
        addresses = self._route.dump(rt.RTM_GETADDR, family)
        return HostTables(
            links=tuple(link_of(message) for message in links),
            addresses=tuple(address_of(message) for message in addresses),
            routes=tuple(route_of(message) for message in self._route.dump(rt.RTM_GETROUTE, family))
            if routes
            else (),
        )

    def add(self, ip: str, placement: Placement, flags: int) -> None:
        """`ip addr add ip/prefix [brd B] dev NIC [label L]`; OSError(EEXIST) when the
        interface has it already."""
        family = socket.AF_INET6 if ":" in ip else socket.AF_INET
        body = rt.add_address_body(
            family,
            placement.link.index,
            ip,
            placement.prefix,
            placement.broadcast,
            placement.label,
            flags,
        )
        self._route.change(rt.RTM_NEWADDR, rt.NLM_F_CREATE | rt.NLM_F_EXCL, body)

    def delete(self, address: Address) -> None:
        """`ip addr del local/prefix [peer P] dev NIC`; an address already gone is not an error."""
        body = rt.delete_address_body(
            address.family, address.index, address.local, address.prefix, address.peer
        )
        try:
            self._route.change(rt.RTM_DELADDR, 0, body)
        except OSError as error:
            if error.errno != errno.EADDRNOTAVAIL:
                raise

    def set_up(self, link: Link) -> None:
        """`ip link set NIC up`."""
        self._route.change(rt.RTM_NEWLINK, 0, rt.link_up_body(link.index))

    def changed(self) -> bool:
        """Whether a link, address or route changed since the last call (the first call: True)."""
        return self._watch.changed()

    def close(self) -> None:
        """Close the netlink sockets (they are opened again when needed)."""
        self._route.close()
        self._watch.close()


def link_of(message: rt.Message) -> Link:
    """A link of a `RTM_NEWLINK` message."""
    _family, kind, index, flags, _change = message.header(rt.LINK_HEADER)
    attributes = message.attributes(rt.LINK_HEADER)
    hardware = attributes.get(rt.IFLA_ADDRESS, b"")
    return Link(
        index=index,
        name=rt.text(attributes.get(rt.IFLA_IFNAME, b"")),
        up=bool(flags & IFF_UP),
        loopback=bool(flags & IFF_LOOPBACK),
        mac=hardware if kind == ARPHRD_ETHER and len(hardware) == ETHER_LENGTH else b"",
    )


def address_of(message: rt.Message) -> Address:
    """An address of a `RTM_NEWADDR` message."""
    family, prefix, header_flags, _scope, index = message.header(rt.ADDRESS_HEADER)
    attributes = message.attributes(rt.ADDRESS_HEADER)
    address = _ip(family, attributes.get(rt.IFA_ADDRESS))
    local = _ip(family, attributes.get(rt.IFA_LOCAL)) or address
    flags = rt.u32(attributes[rt.IFA_FLAGS]) if rt.IFA_FLAGS in attributes else header_flags
    label = attributes.get(rt.IFA_LABEL)
    return Address(
        index=index,
        family=family,
        local=local or "",
        prefix=prefix,
        label=rt.text(label) if label is not None else None,
        broadcast=_ip(socket.AF_INET, attributes.get(rt.IFA_BROADCAST)),
        peer=address if family == socket.AF_INET and address != local else None,
        tentative=bool(flags & IFA_F_TENTATIVE),
        dadfailed=bool(flags & IFA_F_DADFAILED),
    )


def route_of(message: rt.Message) -> Route:
    """A route of a `RTM_NEWROUTE` message."""
    family, dst_len, _src, _tos, table, proto, scope, kind, _flags = message.header(rt.ROUTE_HEADER)
    attributes = message.attributes(rt.ROUTE_HEADER)
    oif = attributes.get(rt.RTA_OIF)
    priority = attributes.get(rt.RTA_PRIORITY)
    return Route(
        family=family,
        dst=_ip(family, attributes.get(rt.RTA_DST)),
        dst_len=dst_len,
        oif=rt.u32(oif) if oif is not None else None,
        table=rt.u32(attributes[rt.RTA_TABLE]) if rt.RTA_TABLE in attributes else table,
        type=kind,
        scope=scope,
        proto=proto,
        prefsrc=_ip(family, attributes.get(rt.RTA_PREFSRC)),
        gateway=_ip(family, attributes.get(rt.RTA_GATEWAY)),
        priority=rt.u32(priority) if priority is not None else 0,
    )


def _ip(family: int, payload: bytes | None) -> str | None:
    return rt.ip_text(family, payload) if payload is not None else None
