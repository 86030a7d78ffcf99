"""What an IP address resource asks for, read as the `IPaddr` and `IPaddr2` agents read it.

Three spellings reach the same agents: `IPaddr::ip[/bits[/nic[/broadcast]]]` (and a bare
address, its shorthand), `IPaddr2::ip[/bits[/nic[:label][/broadcast]]]`, whose Heartbeat
wrappers split the argument into `OCF_RESKEY_*` variables, and `OCF::IPaddr2::<instance>` or
`OCF::IPaddr::<instance>`, whose variables come from `conf/OCF/<type>/<instance>`. Each is turned
into the same parameters here, then checked as the agent checks them. Whatever the native path
would not do exactly as the agent does (a value the agent refuses, a feature not implemented
here, a parameter not known) gives a `Declined` with the reason, and the agent runs instead.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass

from hbtwist.config.model import Resource

AGENTS = frozenset({"IPaddr", "IPaddr2"})
OCF_PREFIX = "OCF_RESKEY_"
DIGITS = "0123456789"

_IPV4 = re.compile(
    r"(?:[1-9][0-9]?|1[0-9][0-9]|2[0-4][0-9]|25[0-5])"
    r"(?:\.(?:[0-9][0-9]?|1[0-9][0-9]|2[0-4][0-9]|25[0-5])){3}"
)
"""findif.sh's `ipcheck_ipv4`: four decimal octets, the first not 0."""
_TRUE = frozenset({"yes", "true", "1", "YES", "TRUE", "True", "ja", "on", "ON"})
"""ocf-shellfuncs' `ocf_is_true`."""

IPADDR2_ARP = (5, 200)
"""IPaddr2's default `arp_count` and `arp_interval` (ms)."""
IPADDR_ARP = (10, 500)
"""IPaddr's default `ARP_REPEAT` and `ARP_INTERVAL_MS`."""


@dataclass(frozen=True)
class IpSpec:
    """One virtual address as configured; what the host does not say yet is None."""

    agent: str
    """`IPaddr` or `IPaddr2`: whose choices (label, netmask, broadcast) are reproduced."""
    address: ipaddress.IPv4Address | ipaddress.IPv6Address
    prefix: int | None = None
    nic: str | None = None
    iflabel: str | None = None
    """IPaddr2's label suffix: the address is labelled `<nic>:<iflabel>` (IPv4 only)."""
    broadcast: str | None = None
    """An IPv4 address, `+` (all host bits set) or `-` (none set); None: chosen as findif does."""
    lvs_support: bool = False
    """IPaddr2: a copy of the address on the loopback (`/32`) is moved away while it runs."""
    nodad: bool = False
    noprefixroute: bool = False
    arp_count: int | None = None
    """Announcements to send: an OCF instance's parameter or its agent's default; None (the
    `IPaddr`/`IPaddr2` scripts): the resource policy decides."""
    arp_interval_ms: int | None = None

    @property
    def family(self) -> int:
        """`socket.AF_INET` or `socket.AF_INET6`."""
        return socket.AF_INET6 if self.address.version == 6 else socket.AF_INET

    @property
    def ip(self) -> str:
        """The address as text (IPv6 in its RFC 5952 form)."""
        return str(self.address)


@dataclass(frozen=True)
class Declined:
    """Why a resource is left to its agent."""

    reason: str


def ip_spec(
    resource: Resource, ocf_environment: Mapping[str, str] | None = None
) -> IpSpec | Declined | None:
    """The spec of an IP resource; None when `resource` is not one.

    `ocf_environment` holds the variables of `conf/OCF/<type>/<instance>` for `OCF::` resources.
    """
    if resource.script in AGENTS:
        if len(resource.args) != 1:
            return Declined(f"{resource.script} takes one argument")
        parameters = wrapper_parameters(resource.args[0])
        parameters["lvs_support"] = "1" if resource.script == "IPaddr2" else "0"
        return spec_from_parameters(resource.script, parameters)
    if resource.script == "OCF" and len(resource.args) == 2 and resource.args[0] in AGENTS:
        if ocf_environment is None:
            return Declined(f"no parameters for OCF {resource.args[0]} {resource.args[1]}")
        return spec_from_environment(resource.args[0], ocf_environment)
    return None


def wrapper_parameters(argument: str) -> dict[str, str]:
    """The OCF parameters Heartbeat's `IPaddr`/`IPaddr2` wrapper makes of its argument.

    Its sed commands take the address up to the first `/`; then the netmask; then a part that
    is the broadcast address when it starts with a digit, else the interface, followed by the
    broadcast address. Runs of `/` count as one.
    """
    ip, _, rest = argument.partition("/")
    parameters = {"ip": ip}
    rest = rest.lstrip("/")
    if rest:
        netmask, _, rest = rest.partition("/")
        parameters["cidr_netmask"] = netmask
        nic, _, rest = rest.lstrip("/").partition("/")
        if nic[:1] and nic[0] in DIGITS:
            parameters["broadcast"] = nic
        elif nic:
            parameters["nic"] = nic
            parameters["broadcast"] = rest.lstrip("/").partition("/")[0]
    return parameters


def spec_from_environment(agent: str, environment: Mapping[str, str]) -> IpSpec | Declined:
    """The spec of an OCF instance from its `OCF_RESKEY_*` variables."""
    parameters = {}
    for name, value in environment.items():
        if not name.startswith(OCF_PREFIX):
            return Declined(f"the configuration sets {name}, which only the agent would see")
        parameters[name[len(OCF_PREFIX) :]] = value
    spec = spec_from_parameters(agent, parameters)
    if isinstance(spec, Declined):
        return spec
    count, interval = IPADDR2_ARP if agent == "IPaddr2" else IPADDR_ARP
    return dataclasses.replace(
        spec,
        arp_count=count if spec.arp_count is None else spec.arp_count,
        arp_interval_ms=interval if spec.arp_interval_ms is None else spec.arp_interval_ms,
    )


def spec_from_parameters(agent: str, parameters: Mapping[str, str]) -> IpSpec | Declined:
    """The spec of `agent` (`IPaddr` or `IPaddr2`) given its OCF parameters (names unprefixed)."""
    try:
        if agent == "IPaddr2":
            return _ipaddr2(parameters)
        if agent == "IPaddr":
            return _ipaddr(parameters)
    except _Refused as refused:
        return Declined(str(refused))
    return Declined(f"{agent} is not an IP address agent")


class _Refused(Exception):
    """A parameter the native path leaves to the agent."""


def _get(parameters: Mapping[str, str], name: str) -> str | None:
    """A parameter's value; None when it is unset or empty (the agents treat both alike)."""
    return parameters.get(name) or None


def _require_default(parameters: Mapping[str, str], name: str, *accepted: str) -> None:
    value = parameters.get(name)
    if value is not None and value not in ("", *accepted):
        raise _Refused(f"{name}={value!r} is not implemented natively")


def _require_false(parameters: Mapping[str, str], name: str) -> None:
    if parameters.get(name) in _TRUE:
        raise _Refused(f"{name} is not implemented natively")


def _positive(parameters: Mapping[str, str], name: str) -> int | None:
    value = parameters.get(name)
    if value is None:
        return None
    if not value or value.strip(DIGITS) or int(value) < 1:
        raise _Refused(f"invalid {name} {value!r}")
    return int(value)


def _check_known(parameters: Mapping[str, str], known: frozenset[str], agent: str) -> None:
    unknown = sorted(set(parameters) - known)
    if unknown:
        raise _Refused(f"{agent} parameter {unknown[0]} is not implemented natively")


_IPADDR2_KNOWN = frozenset(
    {
        "ip", "cidr_netmask", "netmask", "nic", "iflabel", "broadcast", "lvs_support",
        "nodad", "noprefixroute", "arp_interval", "arp_count", "arp_bg", "arp_sender",
        "arp_count_refresh", "send_arp_opts", "flush_routes", "run_arping", "preferred_lft",
        "network_namespace", "lvs_ipv6_addrlabel", "lvs_ipv6_addrlabel_value",
        "clusterip_hash", "mac", "unique_clone_address",
    }
)  # fmt: skip


def _ipaddr2(parameters: Mapping[str, str]) -> IpSpec:
    _check_known(parameters, _IPADDR2_KNOWN, "IPaddr2")
    for name in ("flush_routes", "run_arping", "lvs_ipv6_addrlabel", "unique_clone_address"):
        _require_false(parameters, name)
    for name in ("send_arp_opts", "network_namespace", "mac"):
        _require_default(parameters, name)
    _require_default(parameters, "arp_sender", "send_arp")
    _require_default(parameters, "arp_count_refresh", "0")
    _require_default(parameters, "clusterip_hash", "sourceip-sourceport")
    if parameters.get("preferred_lft", "forever") != "forever":
        raise _Refused(f"preferred_lft={parameters['preferred_lft']!r} is not implemented natively")
    ip = _get(parameters, "ip")
    if ip is None:
        raise _Refused("no ip parameter")
    address = _address(ip)
    limit = 128 if address.version == 6 else 32
    netmask = _get(parameters, "cidr_netmask") or _get(parameters, "netmask")
    nic, iflabel = _get(parameters, "nic"), _get(parameters, "iflabel")
    if nic is not None and ":" in nic:
        nic, _, iflabel = nic.partition(":")
    broadcast = _get(parameters, "broadcast")
    lvs = parameters.get("lvs_support") in _TRUE
    if address.version == 6:
        if broadcast is not None or lvs:
            raise _Refused("broadcast and lvs_support are IPv4 parameters")
        if nic is None and address.is_link_local:
            raise _Refused("a link-local address needs the nic parameter")
    elif broadcast not in (None, "+", "-") and not _IPV4.fullmatch(str(broadcast)):
        raise _Refused(f"invalid broadcast address {broadcast!r}")
    return IpSpec(
        "IPaddr2",
        address,
        prefix=None if netmask is None else _findif_prefix(netmask, limit),
        nic=nic,
        iflabel=iflabel or None,
        broadcast=broadcast,
        lvs_support=lvs,
        nodad=parameters.get("nodad") in _TRUE,
        noprefixroute=parameters.get("noprefixroute") in _TRUE,
        arp_count=_positive(parameters, "arp_count"),
        arp_interval_ms=_positive(parameters, "arp_interval"),
    )


_IPADDR_KNOWN = frozenset(
    {
        "ip", "nic", "cidr_netmask", "netmask", "broadcast", "iflabel", "lvs_support",
        "local_stop_script", "local_start_script", "ARP_INTERVAL_MS", "ARP_REPEAT",
        "ARP_BACKGROUND", "ARP_NETMASK",
    }
)  # fmt: skip


def _ipaddr(parameters: Mapping[str, str]) -> IpSpec:
    _check_known(parameters, _IPADDR_KNOWN, "IPaddr")
    if parameters.get("lvs_support") in ("true", "on", "yes", "1"):
        raise _Refused("IPaddr's lvs_support is not implemented natively")
    for name in ("local_stop_script", "local_start_script"):
        _require_default(parameters, name)
    _require_default(parameters, "ARP_NETMASK", "ffffffffffff")
    ip = _get(parameters, "ip")
    if ip is None or ":" in ip:
        raise _Refused("IPaddr needs an IPv4 ip parameter")
    address = _address(ip)
    netmask = _get(parameters, "cidr_netmask") or _get(parameters, "netmask")
    nic = _get(parameters, "nic")
    if nic is not None:
        nic = nic.partition(":")[0]
        if netmask is None:
            raise _Refused("IPaddr with a nic but no netmask")
    broadcast = _get(parameters, "broadcast")
    if broadcast is not None:
        _inet_pton(broadcast)
    return IpSpec(
        "IPaddr",
        address,
        prefix=None if netmask is None else _c_findif_prefix(netmask),
        nic=nic,
        broadcast=broadcast,
        arp_count=_positive(parameters, "ARP_REPEAT"),
        arp_interval_ms=_positive(parameters, "ARP_INTERVAL_MS"),
    )


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    if ":" in text:
        if text.strip("0123456789abcdefABCDEF:"):
            raise _Refused(f"invalid IPv6 address {text!r}")
        try:
            return ipaddress.IPv6Address(text)
        except ValueError:
            raise _Refused(f"invalid IPv6 address {text!r}") from None
    if not _IPV4.fullmatch(text):
        raise _Refused(f"invalid IP address {text!r}")
    return ipaddress.IPv4Address(text)


def _inet_pton(text: str) -> int:
    try:
        return int(ipaddress.IPv4Address(text))
    except ValueError:
        raise _Refused(f"invalid IPv4 address {text!r}") from None


def _findif_prefix(netmask: str, limit: int) -> int:
    """findif.sh: a dotted-quad netmask is converted, then 1..limit decimal bits are required."""
    if "." in netmask:
        bits = format(_inet_pton(netmask), "032b")
        if "01" in bits:
            raise _Refused(f"bogus netmask {netmask!r}")
        netmask = str(bits.count("1"))
    if netmask.strip(DIGITS) or netmask.startswith("0") or not 1 <= int(netmask) <= limit:
        raise _Refused(f"invalid netmask {netmask!r}")
    return int(netmask)


def _c_findif_prefix(netmask: str) -> int:
    """The findif program: a dotted quad counts the bits above its lowest set bit; else 1..32."""
    if "." in netmask:
        value = _inet_pton(netmask)
        bits = 32 - (value & -value).bit_length() + 1 if value else -1
    elif 0 < len(netmask) <= 2 and not netmask.strip(DIGITS):
        bits = int(netmask)
    else:
        bits = -1
    if not 1 <= bits <= 32:
        raise _Refused(f"invalid netmask {netmask!r}")
    return bits
