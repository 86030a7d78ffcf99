"""Where an IP spec goes on this host: interface, prefix, broadcast and label, as the agents choose.

The host is seen through `HostTables`, plain data read from netlink (`hbtwist.resources.netlink`),
so the choices are pure functions. `IPaddr2` asks findif.sh, which reads `ip route list match`
(link-scope routes of the main table for IPv4, every main route for IPv6) and takes the longest
prefix, the last one among equals; the broadcast address, unless given, is the one of the first
address `ip -o addr` lists that matches the route's preferred source. `IPaddr` asks the findif
program, which reads the main IPv4 table (`/proc/net/route`), computes the broadcast address as the
highest of the subnet, and labels the address `<nic>:<n>`, the lowest `n` not in use.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass

from hbtwist.resources.ipspec import IpSpec

MAIN_TABLE = 254
LOCAL_TABLE = 255
SCOPE_LINK = 253
SCOPE_HOST = 254
RTN_UNICAST = 1
RTN_LOCAL = 2
RTPROT_KERNEL = 2
RTPROT_BOOT = 3
LABEL_LIMIT = 15
"""IFNAMSIZ - 1: the longest interface label the kernel keeps."""
ALIAS_LIMIT = 512
"""IPaddr tries the labels `<nic>:0` to `<nic>:511`."""
IPADDR_DEFAULT_NIC = "eth0"
"""IPaddr's `nic` default, which its validation compares with the interface findif finds."""


@dataclass(frozen=True)
class Link:
    """One network interface."""

    index: int
    name: str
    up: bool = True
    loopback: bool = False
    mac: bytes = b""
    """The hardware address when the link is Ethernet (6 bytes), else empty."""


@dataclass(frozen=True)
class Address:
    """One address of one interface (`ip -o addr`)."""

    index: int
    family: int
    local: str
    prefix: int
    label: str | None = None
    broadcast: str | None = None
    peer: str | None = None
    tentative: bool = False
    dadfailed: bool = False


@dataclass(frozen=True)
class Route:
    """One route (`ip route`)."""

    family: int
    dst: str | None
    dst_len: int
    oif: int | None
    table: int = MAIN_TABLE
    type: int = RTN_UNICAST
    scope: int = SCOPE_LINK
    proto: int = RTPROT_KERNEL
    prefsrc: str | None = None
    gateway: str | None = None
    priority: int = 0


@dataclass(frozen=True)
class HostTables:
    """The links, and the addresses and routes of one family, in the kernel's order."""

    links: tuple[Link, ...]
    addresses: tuple[Address, ...]
    routes: tuple[Route, ...]

    def link(self, name: str) -> Link | None:
        """The interface called `name`."""
        return next((link for link in self.links if link.name == name), None)

    def link_at(self, index: int) -> Link | None:
        """The interface with index `index`."""
        return next((link for link in self.links if link.index == index), None)


@dataclass(frozen=True)
class Placement:
    """Where and how the address is added."""

    link: Link
    prefix: int
    broadcast: str | None
    label: str | None


class PlacementError(Exception):
    """The agent would refuse to start: its message, or one saying the same."""


def place(spec: IpSpec, tables: HostTables) -> Placement:
    """Interface, prefix, broadcast address and label for `spec` on a host; PlacementError if
    the agent would fail to find them."""
    if spec.agent == "IPaddr":
        return _place_ipaddr(spec, tables)
    return _place_ipaddr2(spec, tables)


def needs_routes(spec: IpSpec) -> bool:
    """Whether placing `spec` reads the routes (not when the configuration says everything)."""
    if spec.agent == "IPaddr":
        return spec.nic is None
    if spec.nic is None or spec.prefix is None:
        return True
    return spec.family == socket.AF_INET and spec.broadcast is None


def find_present(spec: IpSpec, tables: HostTables, placement: Placement) -> Address | None:
    """The address as it would be added, when already there (`ip_served`: address and prefix on
    the chosen interface)."""
    for address in tables.addresses:
        if (
            address.index == placement.link.index
            and address.prefix == placement.prefix
            and _same(address.local, spec.ip)
        ):
            return address
    return None


def holders(spec: IpSpec, tables: HostTables) -> tuple[Address, ...]:
    """The copies of the address that status and stop look at: on the configured interface, or
    on any interface but a loopback when none is configured."""
    wanted = tables.link(spec.nic) if spec.nic is not None else None
    if spec.nic is not None and wanted is None:
        return ()
    found = []
    for address in tables.addresses:
        if not _same(address.local, spec.ip):
            continue
        link = tables.link_at(address.index)
        if wanted is not None and address.index != wanted.index:
            continue
        if wanted is None and (link is None or link.loopback):
            continue
        found.append(address)
    return tuple(found)


def loopback_copies(spec: IpSpec, tables: HostTables) -> tuple[Address, ...]:
    """IPaddr2 with lvs_support: copies of the address as a `/32` on an `lo*` interface."""
    found = []
    for address in tables.addresses:
        link = tables.link_at(address.index)
        if link is not None and link.name.startswith("lo") and address.prefix == 32:
            if _same(address.local, spec.ip):
                found.append(address)
    return tuple(found)


def _same(text: str, ip: str) -> bool:
    return ipaddress.ip_address(text) == ipaddress.ip_address(ip)


def _place_ipaddr2(spec: IpSpec, tables: HostTables) -> Placement:
    if spec.nic is not None and tables.link(spec.nic) is None:
        raise PlacementError(f"Invalid interface name [{spec.nic}]")
    route = _findif_route(spec, tables)
    if (spec.nic is None or spec.prefix is None) and route is None:
        raise PlacementError("Unable to find nic or netmask.")
    link = tables.link(spec.nic) if spec.nic is not None else None
    if link is None and route is not None:
        if route.gateway is not None or route.oif is None:
            raise PlacementError(f"the route to {spec.ip} has a gateway: findif finds no nic")
        link = tables.link_at(route.oif)
    if link is None:
        raise PlacementError("Unable to find nic or netmask.")
    prefix = spec.prefix if spec.prefix is not None else route.dst_len if route else 0
    broadcast = None
    if spec.family == socket.AF_INET:
        broadcast = spec.broadcast
        if broadcast is None and route is not None:
            broadcast = _source_broadcast(route, tables)
        broadcast = _ip_broadcast(spec, prefix, broadcast)
    label = None
    if spec.iflabel is not None:
        label = f"{link.name}:{spec.iflabel}"
        if len(label) > LABEL_LIMIT:
            raise PlacementError(f"Interface label [{label}] exceeds maximum character limit of 15")
        if spec.family == socket.AF_INET6:
            label = None
    return Placement(link, prefix, broadcast, label)


def _findif_route(spec: IpSpec, tables: HostTables) -> Route | None:
    """findif.sh's `ip route list match` pick, with its fallback to the local table for 127/8."""
    width = 32 if spec.family == socket.AF_INET else 128
    match_len = spec.prefix if spec.prefix is not None else width
    nic = tables.link(spec.nic) if spec.nic is not None else None
    best: Route | None = None
    for route in _containing(spec, tables.routes, match_len, MAIN_TABLE):
        if spec.family == socket.AF_INET and route.scope != SCOPE_LINK:
            continue
        if route.type != RTN_UNICAST or (nic is not None and route.oif != nic.index):
            continue
        if 0 < route.dst_len < width and (best is None or route.dst_len >= best.dst_len):
            best = route
    if best is None and spec.family == socket.AF_INET and spec.ip.startswith("127."):
        for route in _containing(spec, tables.routes, match_len, LOCAL_TABLE):
            if route.type == RTN_LOCAL and route.scope == SCOPE_HOST and 0 < route.dst_len < 32:
                return route
    return best


def _containing(spec: IpSpec, routes: Iterable[Route], match_len: int, table: int) -> list[Route]:
    network = ipaddress.ip_network(f"{spec.ip}/{match_len}", strict=False)
    found = []
    for route in routes:
        if route.table != table or route.family != spec.family or route.dst_len > match_len:
            continue
        destination = route.dst or ("::" if spec.family == socket.AF_INET6 else "0.0.0.0")
        if network.subnet_of(ipaddress.ip_network(f"{destination}/{route.dst_len}")):  # type: ignore[arg-type]
            found.append(route)
    return found


def _source_broadcast(route: Route, tables: HostTables) -> str | None:
    """findif.sh greps `ip -o -f inet addr show` for the route line's seventh word, which is its
    preferred source when `proto` is shown (a route not added at boot), and takes `brd` from the
    first line matching (the word is a regular expression: its dots match any character)."""
    if route.prefsrc is None or route.proto == RTPROT_BOOT:
        return None
    pattern = re.compile(route.prefsrc)
    for address in tables.addresses:
        link = tables.link_at(address.index)
        name = link.name if link is not None else "?"
        line = f"{address.index}: {name}    inet {address.local}"
        line += f" peer {address.peer}/{address.prefix}" if address.peer else f"/{address.prefix}"
        line += f" brd {address.broadcast}" if address.broadcast else ""
        line += f" scope global {address.label or name}"
        if pattern.search(line):
            return address.broadcast
    return None


def _ip_broadcast(spec: IpSpec, prefix: int, broadcast: str | None) -> str | None:
    """`ip addr add ... brd +|-` computes the address only for prefixes up to /30."""
    if broadcast not in ("+", "-"):
        return broadcast
    if prefix > 30:
        return None
    network = ipaddress.IPv4Network(f"{spec.ip}/{prefix}", strict=False)
    return str(network.broadcast_address if broadcast == "+" else network.network_address)


def _place_ipaddr(spec: IpSpec, tables: HostTables) -> Placement:
    if spec.nic is not None:
        link = tables.link(spec.nic)
        if link is None:
            raise PlacementError(f"{spec.nic}: unknown interface")
        prefix = spec.prefix
    else:
        route = _proc_route(spec, tables)
        link = tables.link_at(route.oif) if route is not None and route.oif is not None else None
        if route is None or link is None:
            raise PlacementError(f"No route to {spec.ip}")
        if link.name != IPADDR_DEFAULT_NIC:
            raise PlacementError(
                f"Invalid parameter value: nic [{IPADDR_DEFAULT_NIC}] Calculated nic: [{link.name}]"
            )
        prefix = spec.prefix or route.dst_len
    if not prefix:
        raise PlacementError(f"Cannot use default route w/o netmask [{spec.ip}]")
    network = ipaddress.IPv4Network(f"{spec.ip}/{prefix}", strict=False)
    broadcast = spec.broadcast or str(network.broadcast_address)
    return Placement(link, prefix, broadcast, _free_alias(link.name, tables))


def _proc_route(spec: IpSpec, tables: HostTables) -> Route | None:
    """The findif program's pick from `/proc/net/route`: in table order, a matching route with a
    metric no higher and a mask no shorter than the best so far."""
    best: Route | None = None
    for route in _containing(spec, tables.routes, 32, MAIN_TABLE):
        if best is None or (route.priority <= best.priority and route.dst_len >= best.dst_len):
            best = route
    return best


def _free_alias(nic: str, tables: HostTables) -> str:
    used = {address.label for address in tables.addresses}
    for number in range(ALIAS_LIMIT):
        label = f"{nic}:{number}"
        if label not in used:
            return label
    raise PlacementError(f"No free interface found for {nic}")
