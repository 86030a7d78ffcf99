"""Heartbeat media (bcast, mcast, mcast6, ucast, ucast6, serial, ping, ping6, ping_group): their
objects and line parsers.

Each medium kind is a frozen dataclass with `kind` (the ha.cf directive), `name` (the link name of
spec section 6.2: the interface or tty path; for the ping media the ping node) and `location`
(file, line). Each ping medium is also a node of type `ping` (spec 7.7), named after its host or
group. `MEDIUM_PARSERS` maps a
directive to the parser of its lines, so that further media can be registered later.

UDP media take their port from `udpport` and serial media their speed from `baud`, but, as in
Heartbeat, each plugin reads the setting once, when its first line is parsed: `MediaSettings`
keeps those latched values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import ClassVar

from hbtwist.config.problems import shown
from hbtwist.config.values import (
    ascii_lower,
    check_host_name,
    check_interface_name,
    check_node_name,
    looks_like_ipv4,
    parse_int,
    parse_ipv4,
    parse_ipv6,
    parse_port,
    split_words,
)

Location = tuple[str, int]
"""Where something was configured: (file path, line number)."""

NO_LOCATION: Location = ("", 0)
"""The location of a medium built in code rather than read from a file."""

DEFAULT_BAUD = 19200
BAUD_RATES = (9600, 19200, 38400, 57600, 115200, 230400, 460800)
MAX_HOPS = 4
"""Heartbeat's parsers refuse a multicast ttl/hops above 4 (although its docs say 255)."""


@dataclass(frozen=True)
class BcastMedium:
    """UDP broadcast to the broadcast address of `interface`."""

    kind: ClassVar[str] = "bcast"
    interface: str
    port: int
    location: Location = field(default=NO_LOCATION, compare=False)

    @property
    def name(self) -> str:
        """The link name: the interface."""
        return self.interface

    def describe(self) -> str:
        """One line for humans, e.g. `bcast eth0 :694`."""
        return f"bcast {self.interface} :{self.port}"


@dataclass(frozen=True)
class McastMedium:
    """UDP multicast to `group`:`port` through `interface`."""

    kind: ClassVar[str] = "mcast"
    interface: str
    group: str
    port: int
    ttl: int
    loop: bool
    location: Location = field(default=NO_LOCATION, compare=False)

    @property
    def name(self) -> str:
        """The link name: the interface."""
        return self.interface

    def describe(self) -> str:
        """One line for humans, e.g. `mcast eth0 -> 239.0.0.1:694 ttl=1 loop=0`."""
        return f"mcast {self.interface} -> {self.group}:{self.port} ttl={self.ttl} loop={int(self.loop)}"


@dataclass(frozen=True)
class Mcast6Medium:
    """UDP/IPv6 multicast to `group`:`port` through `interface`; `ttl` is the hop limit."""

    kind: ClassVar[str] = "mcast6"
    interface: str
    group: str
    port: int
    ttl: int
    loop: bool
    location: Location = field(default=NO_LOCATION, compare=False)

    @property
    def name(self) -> str:
        """The link name: the interface."""
        return self.interface

    def describe(self) -> str:
        """One line for humans, e.g. `mcast6 eth0 -> [ff12::1]:694 hops=1 loop=0`."""
        return (
            f"mcast6 {self.interface} -> [{self.group}]:{self.port}"
            f" hops={self.ttl} loop={int(self.loop)}"
        )


@dataclass(frozen=True)
class UcastMedium:
    """UDP unicast to `peer` (an IPv4 address or a host name) through `interface`."""

    kind: ClassVar[str] = "ucast"
    interface: str
    peer: str
    port: int
    location: Location = field(default=NO_LOCATION, compare=False)

    @property
    def name(self) -> str:
        """The link name: the interface."""
        return self.interface

    def describe(self) -> str:
        """One line for humans, e.g. `ucast eth0 -> 192.0.2.12:694`."""
        return f"ucast {self.interface} -> {self.peer}:{self.port}"


@dataclass(frozen=True)
class Ucast6Medium:
    """UDP/IPv6 unicast to `peer` (with an optional `%scope`) through `interface`."""

    kind: ClassVar[str] = "ucast6"
    interface: str
    peer: str
    scope: str | None
    port: int
    location: Location = field(default=NO_LOCATION, compare=False)

    @property
    def name(self) -> str:
        """The link name: the interface."""
        return self.interface

    def describe(self) -> str:
        """One line for humans, e.g. `ucast6 eth0 -> [fe80::2%eth0]:694`."""
        scope = f"%{self.scope}" if self.scope else ""
        return f"ucast6 {self.interface} -> [{self.peer}{scope}]:{self.port}"


@dataclass(frozen=True)
class SerialMedium:
    """A serial line on the tty `device` at `baud` bits per second."""

    kind: ClassVar[str] = "serial"
    device: str
    baud: int
    location: Location = field(default=NO_LOCATION, compare=False)

    @property
    def name(self) -> str:
        """The link name: the tty path."""
        return self.device

    def describe(self) -> str:
        """One line for humans, e.g. `serial /dev/ttyS0 @19200`."""
        return f"serial {self.device} @{self.baud}"


@dataclass(frozen=True)
class PingMedium:
    """A ping node (`ping <host>`): ICMP echo to `hosts`; the node is alive while one answers."""

    kind: ClassVar[str] = "ping"
    family: ClassVar[int] = 4
    """The IP version of `hosts`."""
    node: str
    """The ping node's name (its host, or its group name), lower-cased as node names are."""
    hosts: tuple[str, ...]
    """The addresses or host names pinged."""
    location: Location = field(default=NO_LOCATION, compare=False)

    @property
    def name(self) -> str:
        """The link name: the ping node, whose single link it is (spec 6.2)."""
        return self.node

    def describe(self) -> str:
        """One line for humans, e.g. `ping 192.0.2.1` or `ping_group uplinks: 192.0.2.1 ...`."""
        if self.kind == "ping_group":
            return f"ping_group {self.node}: {' '.join(self.hosts)}"
        return f"{self.kind} {' '.join(self.hosts)}"


@dataclass(frozen=True)
class Ping6Medium(PingMedium):
    """A ping node over IPv6 (`ping6 <host>`)."""

    kind: ClassVar[str] = "ping6"
    family: ClassVar[int] = 6


@dataclass(frozen=True)
class PingGroupMedium(PingMedium):
    """A group of hosts pinged as one ping node (`ping_group <name> <host>...`)."""

    kind: ClassVar[str] = "ping_group"


Medium = (
    BcastMedium | McastMedium | Mcast6Medium | UcastMedium | Ucast6Medium | SerialMedium | PingMedium
)


def ping_nodes(media: Iterable[object]) -> tuple[str, ...]:
    """The names of the ping nodes the ping media of `media` make, in ha.cf order."""
    return tuple(dict.fromkeys(medium.node for medium in media if isinstance(medium, PingMedium)))


@dataclass(frozen=True)
class Latched:
    """A setting a medium plugin read when its first line was parsed."""

    value: int
    line: int


class MediaSettings:
    """The `udpport` and `baud` values seen by media lines, latched per kind as Heartbeat does."""

    def __init__(self, default_udpport: int) -> None:
        self.udpport = default_udpport
        self.baud = DEFAULT_BAUD
        self.latched_ports: dict[str, Latched] = {}
        self.latched_baud: Latched | None = None

    def port_for(self, kind: str, line: int) -> int:
        """The UDP port of a `kind` medium on `line`: the one seen by the first line of its kind."""
        latched = self.latched_ports.setdefault(kind, Latched(self.udpport, line))
        return latched.value

    def serial_baud(self, line: int) -> int:
        """The speed of a serial medium on `line`: the one seen by the first serial line."""
        if self.latched_baud is None:
            self.latched_baud = Latched(self.baud, line)
        return self.latched_baud.value


@dataclass(frozen=True)
class MediumLine:
    """What a medium parser gets: the argument text and where it is, the settings, a warner."""

    argument: str
    location: Location
    settings: MediaSettings
    warn: Callable[[str], None]


@dataclass(frozen=True)
class MediumParser:
    """How one medium directive is read: per word (`bcast a b`) or as the whole line (`mcast ...`)."""

    whole_line: bool
    parse: Callable[[MediumLine], Medium]


def _words(line: MediumLine, kind: str, names: tuple[str, ...]) -> list[str]:
    words = split_words(line.argument)
    if len(words) < len(names):
        syntax = " ".join(f"<{name}>" for name in names)
        raise ValueError(f"missing {names[len(words)]} (syntax: {kind} {syntax})")
    if len(words) > len(names):
        line.warn(f"{kind}: extra text {shown(' '.join(words[len(names) :]))} is ignored")
    return words[: len(names)]


def _interface(name: str) -> str:
    check_interface_name(name)
    return name


def _flag(text: str, what: str) -> bool:
    try:
        return bool(parse_int(text, 0, 1))
    except ValueError:
        raise ValueError(f"bad {what} {shown(text)} (0 or 1)") from None


def _hops(text: str, what: str) -> int:
    try:
        return parse_int(text, 0, MAX_HOPS)
    except ValueError:
        raise ValueError(f"bad {what} {shown(text)} (0..{MAX_HOPS})") from None


def parse_bcast(line: MediumLine) -> BcastMedium:
    """`bcast <interface>` (one word of an option list)."""
    interface = _interface(line.argument)
    port = line.settings.port_for("bcast", line.location[1])
    return BcastMedium(interface, port, line.location)


def parse_mcast(line: MediumLine) -> McastMedium:
    """`mcast <dev> <group> <port> <ttl> <loop>`, all five mandatory."""
    dev, group, port, ttl, loop = _words(line, "mcast", ("dev", "group", "port", "ttl", "loop"))
    address = parse_ipv4(group)
    if not address.is_multicast:
        raise ValueError(f"{group} is not a multicast group (224.0.0.0/4)")
    return McastMedium(
        _interface(dev),
        str(address),
        parse_port(port),
        _hops(ttl, "ttl"),
        _flag(loop, "loop"),
        line.location,
    )


def parse_mcast6(line: MediumLine) -> Mcast6Medium:
    """`mcast6 <dev> <ipv6-group> <port> <hops> <loop>`, all five mandatory."""
    dev, group, port, hops, loop = _words(line, "mcast6", ("dev", "group", "port", "hops", "loop"))
    address = parse_ipv6(group)
    if not address.is_multicast:
        raise ValueError(f"{group} is not an IPv6 multicast group (ff00::/8)")
    return Mcast6Medium(
        _interface(dev),
        str(address),
        parse_port(port),
        _hops(hops, "hops"),
        _flag(loop, "loop"),
        line.location,
    )


def parse_ucast(line: MediumLine) -> UcastMedium:
    """`ucast <dev> <peer>`: one peer (IPv4 address or host name) per line."""
    dev, peer = _words(line, "ucast", ("dev", "peer"))
    interface = _interface(dev)
    if ":" in peer:
        raise ValueError(f"{shown(peer)} is not an IPv4 address or host name (use ucast6 for IPv6)")
    if looks_like_ipv4(peer):
        peer = str(parse_ipv4(peer))
    else:
        check_host_name(peer)
    port = line.settings.port_for("ucast", line.location[1])
    return UcastMedium(interface, peer, port, line.location)


def parse_ucast6(line: MediumLine) -> Ucast6Medium:
    """`ucast6 <dev> <ipv6-address>[%<scope>]`: one peer per line."""
    dev, target = _words(line, "ucast6", ("dev", "peer"))
    interface = _interface(dev)
    address_text, percent, scope = target.partition("%")
    address = parse_ipv6(address_text)
    if address.is_multicast:
        raise ValueError(f"{address_text} is a multicast address (use mcast6)")
    if percent and not scope:
        raise ValueError(f"empty scope in {shown(target)}")
    port = line.settings.port_for("ucast6", line.location[1])
    return Ucast6Medium(interface, str(address), scope or None, port, line.location)


def parse_serial(line: MediumLine) -> SerialMedium:
    """`serial <tty>` (one word of an option list): an absolute device path."""
    if not line.argument.startswith("/"):
        raise ValueError(f"serial port {shown(line.argument)} is not a full path name")
    return SerialMedium(line.argument, line.settings.serial_baud(line.location[1]), line.location)


def _ping_host(text: str, family: int) -> str:
    """One pinged host: an address of `family` (4 or 6) or a host name, as ping's resolver takes."""
    if family == 4 and ":" in text:
        raise ValueError(f"{shown(text)} is not an IPv4 address or host name (use ping6 for IPv6)")
    if family == 6 and looks_like_ipv4(text):
        raise ValueError(f"{shown(text)} is an IPv4 address (use ping for IPv4)")
    if ":" in text:
        return str(parse_ipv6(text))
    if looks_like_ipv4(text):
        return str(parse_ipv4(text))
    check_host_name(text)
    return text


def _ping_node(text: str) -> str:
    name = ascii_lower(text)
    check_node_name(name)
    return name


def parse_ping(line: MediumLine) -> PingMedium:
    """`ping <host>` (one word of an option list): an IPv4 address or a host name."""
    host = _ping_host(line.argument, 4)
    return PingMedium(_ping_node(line.argument), (host,), line.location)


def parse_ping6(line: MediumLine) -> Ping6Medium:
    """`ping6 <host>` (one word of an option list): an IPv6 address or a host name."""
    host = _ping_host(line.argument, 6)
    return Ping6Medium(_ping_node(line.argument), (host,), line.location)


def parse_ping_group(line: MediumLine) -> PingGroupMedium:
    """`ping_group <name> <host> [<host> ...]`: one ping node alive while any host answers."""
    words = split_words(line.argument)
    if len(words) < 2:
        raise ValueError(
            "expected a group name and at least one host (syntax: ping_group <name> <host>...)"
        )
    name, *hosts = words
    addresses = tuple(dict.fromkeys(_ping_host(host, 4) for host in hosts))
    return PingGroupMedium(_ping_node(name), addresses, line.location)


MEDIUM_PARSERS: dict[str, MediumParser] = {
    "bcast": MediumParser(whole_line=False, parse=parse_bcast),
    "mcast": MediumParser(whole_line=True, parse=parse_mcast),
    "mcast6": MediumParser(whole_line=True, parse=parse_mcast6),
    "ucast": MediumParser(whole_line=True, parse=parse_ucast),
    "ucast6": MediumParser(whole_line=True, parse=parse_ucast6),
    "serial": MediumParser(whole_line=False, parse=parse_serial),
    "ping": MediumParser(whole_line=False, parse=parse_ping),
    "ping6": MediumParser(whole_line=False, parse=parse_ping6),
    "ping_group": MediumParser(whole_line=True, parse=parse_ping_group),
}
"""Medium directive -> parser. A medium plugin registry can add entries here."""
