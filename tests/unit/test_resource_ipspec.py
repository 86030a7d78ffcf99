"""IP resources read as the IPaddr/IPaddr2 agents read them, and placed as findif places them."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from hbtwist.config.haresources import parse_resource
from hbtwist.config.model import Resource
from hbtwist.resources.findif import (
    LOCAL_TABLE,
    RTN_LOCAL,
    RTPROT_BOOT,
    SCOPE_HOST,
    Address,
    HostTables,
    Link,
    PlacementError,
    Route,
    find_present,
    holders,
    loopback_copies,
    needs_routes,
    place,
)
from hbtwist.resources.ipspec import Declined, IpSpec, ip_spec, wrapper_parameters

INET = socket.AF_INET
LO = Link(1, "lo", loopback=True)
ETH0 = Link(2, "eth0", mac=b"\x02\x00\x00\x00\x00\x01")
ETH1 = Link(3, "eth1", mac=b"\x02\x00\x00\x00\x00\x02")
HOST = HostTables(
    links=(LO, ETH0, ETH1),
    addresses=(
        Address(1, INET, "127.0.0.1", 8, label="lo"),
        Address(2, INET, "192.0.2.11", 24, label="eth0", broadcast="192.0.2.255"),
        Address(3, INET, "198.51.100.11", 24, label="eth1"),
    ),
    routes=(
        Route(INET, "192.0.2.0", 24, 2, prefsrc="192.0.2.11"),
        Route(INET, "198.51.100.0", 24, 3, prefsrc="198.51.100.11"),
        Route(INET, None, 0, 2, scope=0, gateway="192.0.2.1"),
        Route(INET, "127.0.0.0", 8, 1, table=LOCAL_TABLE, type=RTN_LOCAL, scope=SCOPE_HOST),
    ),
)


def spec(word: str) -> IpSpec:
    """The spec of a haresources resource word, which must be served natively."""
    result = ip_spec(parse_resource(word))
    assert isinstance(result, IpSpec), result
    return result


def ocf(agent: str, **parameters: str) -> IpSpec | Declined | None:
    """The spec of an OCF instance whose file sets `OCF_RESKEY_<name>` for each parameter."""
    environment = {f"OCF_RESKEY_{name}": value for name, value in parameters.items()}
    return ip_spec(Resource("OCF", (agent, "vip"), f"OCF::{agent}::vip"), environment)


@pytest.mark.parametrize(
    ("argument", "expected"),
    [
        ("192.0.2.10", {"ip": "192.0.2.10"}),
        ("192.0.2.10/24", {"ip": "192.0.2.10", "cidr_netmask": "24"}),
        (
            "192.0.2.10/24/192.0.2.255",
            {"ip": "192.0.2.10", "cidr_netmask": "24", "broadcast": "192.0.2.255"},
        ),
        (
            "192.0.2.10/24/eth0",
            {"ip": "192.0.2.10", "cidr_netmask": "24", "nic": "eth0", "broadcast": ""},
        ),
        (
            "192.0.2.10/24/eth0:web/192.0.2.127",
            {"ip": "192.0.2.10", "cidr_netmask": "24", "nic": "eth0:web", "broadcast": "192.0.2.127"},
        ),
        ("192.0.2.10//eth0", {"ip": "192.0.2.10", "cidr_netmask": "eth0"}),
    ],
)
def test_wrapper_splits_the_argument_as_its_sed_commands_do(
    argument: str, expected: dict[str, str]
) -> None:
    """The Heartbeat wrappers' split: a digit-led third part is the broadcast, `//` counts as `/`."""
    assert wrapper_parameters(argument) == expected


def test_bare_address_is_ipaddr_and_ipaddr2_has_lvs_support() -> None:
    """A bare address is `IPaddr::<address>`; the IPaddr2 wrapper always sets lvs_support."""
    assert spec("192.0.2.10") == IpSpec("IPaddr", ipaddress.ip_address("192.0.2.10"))
    full = spec("IPaddr2::192.0.2.10/25/eth0:web/192.0.2.127")
    assert (full.agent, full.prefix, full.nic, full.iflabel, full.broadcast) == (
        "IPaddr2",
        25,
        "eth0",
        "web",
        "192.0.2.127",
    )
    assert full.lvs_support and full.arp_count is None and full.family == INET


def test_resources_that_are_not_addresses_are_not_ip_resources() -> None:
    """Scripts and other OCF agents are not IP resources at all."""
    assert ip_spec(parse_resource("httpd")) is None
    assert ip_spec(Resource("OCF", ("Dummy", "d"), "OCF::Dummy::d"), {}) is None


def test_ocf_instance_reads_its_parameters_and_the_agent_defaults() -> None:
    """OCF IPaddr2: IPv6 allowed, `nic:label` overrides iflabel, the agent's ARP defaults apply."""
    result = ocf(
        "IPaddr2", ip="2001:DB8::0:50", cidr_netmask="64", nic="eth0:v6", iflabel="x", nodad="yes"
    )
    assert isinstance(result, IpSpec)
    assert (result.ip, result.family, result.prefix, result.nic, result.iflabel) == (
        "2001:db8::50",
        socket.AF_INET6,
        64,
        "eth0",
        "v6",
    )
    assert (result.nodad, result.arp_count, result.arp_interval_ms) == (True, 5, 200)
    legacy = ocf("IPaddr", ip="192.0.2.9", ARP_REPEAT="3")
    assert isinstance(legacy, IpSpec)
    assert (legacy.agent, legacy.arp_count, legacy.arp_interval_ms) == ("IPaddr", 3, 500)


@pytest.mark.parametrize(
    ("netmask", "prefix"),
    [("24", 24), ("255.255.255.128", 25), ("32", 32)],
)
def test_ipaddr2_netmask_may_be_a_dotted_quad(netmask: str, prefix: int) -> None:
    """findif.sh converts a contiguous dotted-quad netmask to its prefix length."""
    result = ocf("IPaddr2", ip="192.0.2.9", cidr_netmask=netmask)
    assert isinstance(result, IpSpec) and result.prefix == prefix


def test_ipaddr_netmask_counts_bits_above_the_lowest_set_one() -> None:
    """The findif program turns even a non-contiguous dotted quad into a prefix length."""
    result = ocf("IPaddr", ip="192.0.2.9", netmask="255.0.255.0")
    assert isinstance(result, IpSpec) and result.prefix == 24


@pytest.mark.parametrize(
    ("agent", "parameters", "reason"),
    [
        ("IPaddr2", {"ip": "192.0.2.9", "arp_sender": "iputils_arping"}, "arp_sender"),
        ("IPaddr2", {"ip": "192.0.2.9", "preferred_lft": "60"}, "preferred_lft"),
        ("IPaddr2", {"ip": "192.0.2.9", "clusterip_hash": "sourceip"}, "clusterip_hash"),
        ("IPaddr2", {"ip": "192.0.2.9", "flush_routes": "true"}, "flush_routes"),
        ("IPaddr2", {"ip": "192.0.2.9", "unique_clone_address": "yes"}, "unique_clone_address"),
        ("IPaddr2", {"ip": "192.0.2.9", "bogus": "1"}, "bogus"),
        ("IPaddr2", {"ip": "192.0.2.9", "cidr_netmask": "33"}, "netmask"),
        ("IPaddr2", {"ip": "192.0.2.9", "cidr_netmask": "255.0.255.0"}, "netmask"),
        ("IPaddr2", {"ip": "192.0.2.9", "broadcast": "nope"}, "broadcast"),
        ("IPaddr2", {"ip": "2001:db8::9", "broadcast": "+"}, "IPv4"),
        ("IPaddr2", {"ip": "fe80::9"}, "nic"),
        ("IPaddr2", {"ip": "0.1.2.3"}, "invalid IP"),
        ("IPaddr2", {"ip": "192.0.2.9", "arp_count": "0"}, "arp_count"),
        ("IPaddr2", {"cidr_netmask": "24"}, "no ip"),
        ("IPaddr", {"ip": "192.0.2.9", "lvs_support": "true"}, "lvs_support"),
        ("IPaddr", {"ip": "192.0.2.9", "nic": "eth0"}, "no netmask"),
        ("IPaddr", {"ip": "2001:db8::9"}, "IPv4"),
        ("IPaddr", {"ip": "192.0.2.9", "local_start_script": "/bin/x"}, "local_start_script"),
    ],
)
def test_what_the_native_path_does_not_do_is_declined_with_a_reason(
    agent: str, parameters: dict[str, str], reason: str
) -> None:
    """Unimplemented features, unknown parameters and values the agent refuses go to the agent."""
    result = ocf(agent, **parameters)
    assert isinstance(result, Declined)
    assert reason in result.reason


def test_instance_without_parameters_or_with_other_variables_is_declined() -> None:
    """No instance file, or a variable other than OCF_RESKEY_*, leaves the resource to the agent."""
    resource = Resource("OCF", ("IPaddr2", "vip"), "OCF::IPaddr2::vip")
    assert isinstance(ip_spec(resource), Declined)
    declined = ip_spec(resource, {"OCF_RESKEY_ip": "192.0.2.9", "PATH": "/x"})
    assert isinstance(declined, Declined) and "PATH" in declined.reason


def test_ipaddr2_takes_the_longest_link_route_and_the_broadcast_of_its_source() -> None:
    """No nic, no netmask: the link route containing the address; brd from the source's line."""
    placement = place(spec("IPaddr2::192.0.2.50"), HOST)
    assert (placement.link, placement.prefix, placement.broadcast, placement.label) == (
        ETH0,
        24,
        "192.0.2.255",
        None,
    )
    longer = HostTables(HOST.links, HOST.addresses, (*HOST.routes, Route(INET, "192.0.2.0", 25, 3)))
    placed = place(spec("IPaddr2::192.0.2.50"), longer)
    assert (placed.link, placed.prefix, placed.broadcast) == (ETH1, 25, None)


def test_ipaddr2_broadcast_follows_the_route_line_quirks() -> None:
    """A boot-protocol route shows no `proto` (no broadcast); the source is a regex, dots wild."""
    boot = Route(INET, "192.0.2.0", 24, 2, proto=RTPROT_BOOT, prefsrc="192.0.2.11")
    assert (
        place(spec("IPaddr2::192.0.2.50"), HostTables(HOST.links, HOST.addresses, (boot,))).broadcast
        is None
    )
    addresses = (
        Address(2, INET, "192.0.2.110", 25, broadcast="192.0.2.127"),
        Address(2, INET, "192.0.2.11", 24, broadcast="192.0.2.255"),
    )
    tables = HostTables(HOST.links, addresses, HOST.routes)
    assert place(spec("IPaddr2::192.0.2.50"), tables).broadcast == "192.0.2.127"


@pytest.mark.parametrize(
    ("word", "broadcast"),
    [
        ("IPaddr2::192.0.2.50/26/eth0/+", "192.0.2.63"),
        ("IPaddr2::192.0.2.50/26/eth0/-", "192.0.2.0"),
        ("IPaddr2::192.0.2.50/31/eth0/+", None),
        ("IPaddr2::192.0.2.50/26/eth0/192.0.2.1", "192.0.2.1"),
    ],
)
def test_ipaddr2_broadcast_plus_and_minus_are_computed_up_to_slash_30(
    word: str, broadcast: str | None
) -> None:
    """`brd +` sets the host bits, `brd -` clears them, neither applies to /31 and /32."""
    resource = Resource("IPaddr2", (word.split("::")[1],), word)
    result = ip_spec(resource)
    assert isinstance(result, IpSpec)
    assert place(result, HOST).broadcast == broadcast


def test_ipaddr2_label_and_nic_checks() -> None:
    """The label is `<nic>:<iflabel>` of at most 15 characters; an unknown nic is refused."""
    assert place(spec("IPaddr2::192.0.2.50/24/eth0:web"), HOST).label == "eth0:web"
    with pytest.raises(PlacementError, match="exceeds maximum"):
        place(spec("IPaddr2::192.0.2.50/24/eth0:a-very-long"), HOST)
    with pytest.raises(PlacementError, match="Invalid interface name"):
        place(spec("IPaddr2::192.0.2.50/24/eth9"), HOST)
    with pytest.raises(PlacementError, match="Unable to find nic or netmask"):
        place(spec("IPaddr2::203.0.113.5"), HOST)


def test_ipaddr2_with_a_nic_only_looks_at_its_routes() -> None:
    """With a nic, findif keeps only that interface's routes; 127/8 falls back to the local table."""
    on_eth1, on_eth0 = (
        ocf("IPaddr2", ip="192.0.2.50", nic="eth1"),
        ocf("IPaddr2", ip="192.0.2.50", nic="eth0"),
    )
    assert isinstance(on_eth1, IpSpec) and isinstance(on_eth0, IpSpec)
    with pytest.raises(PlacementError, match="Unable to find"):
        place(on_eth1, HOST)
    assert place(on_eth0, HOST).prefix == 24
    assert (
        place(spec("IPaddr2::192.0.2.50/24/eth1"), HostTables(HOST.links, HOST.addresses, ())).link
        == ETH1
    )
    loopback = place(spec("IPaddr2::127.0.0.9"), HOST)
    assert (loopback.link, loopback.prefix, loopback.broadcast) == (LO, 8, None)


def test_ipaddr_labels_the_lowest_free_alias_and_computes_the_broadcast() -> None:
    """IPaddr: `<nic>:<n>` with the lowest n unused, brd the highest address of the subnet."""
    taken = (*HOST.addresses, Address(2, INET, "192.0.2.60", 24, label="eth0:0"))
    placement = place(spec("192.0.2.61"), HostTables(HOST.links, taken, HOST.routes))
    assert (placement.link, placement.prefix, placement.broadcast, placement.label) == (
        ETH0,
        24,
        "192.0.2.255",
        "eth0:1",
    )
    given = place(spec("IPaddr::198.51.100.7/26/eth1"), HOST)
    assert (given.link, given.prefix, given.broadcast, given.label) == (
        ETH1,
        26,
        "198.51.100.63",
        "eth1:0",
    )


def test_ipaddr_without_nic_refuses_an_interface_other_than_eth0() -> None:
    """IPaddr's nic defaults to eth0 and its validation refuses any other calculated nic."""
    with pytest.raises(PlacementError, match=r"nic \[eth0\] Calculated nic: \[eth1\]"):
        place(spec("IPaddr::198.51.100.7"), HOST)
    with pytest.raises(PlacementError, match="No route"):
        place(spec("IPaddr::203.0.113.5"), HostTables(HOST.links, HOST.addresses, HOST.routes[:2]))


def test_ipaddr_route_pick_is_the_findif_programs() -> None:
    """In table order: a matching route with no higher metric and no shorter mask wins."""
    routes = (
        Route(INET, "192.0.2.0", 24, 2),
        Route(INET, "192.0.2.0", 25, 2, priority=100),
    )
    assert place(spec("192.0.2.50"), HostTables(HOST.links, HOST.addresses, routes)).prefix == 24
    with pytest.raises(PlacementError, match="default route"):
        place(spec("192.0.2.50"), HostTables(HOST.links, HOST.addresses, (HOST.routes[2],)))


def test_routes_are_read_only_when_the_configuration_leaves_something_open() -> None:
    """nic, prefix and (IPv4) broadcast all given: no route is needed."""
    assert not needs_routes(spec("IPaddr2::192.0.2.50/24/eth0/192.0.2.255"))
    assert needs_routes(spec("IPaddr2::192.0.2.50/24/eth0"))
    assert not needs_routes(spec("IPaddr::192.0.2.50/24/eth0"))
    assert needs_routes(spec("192.0.2.50"))


def test_presence_holders_and_loopback_copies() -> None:
    """Present means address and prefix on the chosen nic; holders skip loopbacks unless named."""
    vip = spec("IPaddr2::192.0.2.50/24/eth0")
    addresses = (
        *HOST.addresses,
        Address(1, INET, "192.0.2.50", 32, label="lo"),
        Address(2, INET, "192.0.2.50", 25, label="eth0"),
    )
    tables = HostTables(HOST.links, addresses, HOST.routes)
    placement = place(vip, tables)
    assert find_present(vip, tables, placement) is None
    assert holders(vip, tables) == (addresses[4],)
    assert holders(spec("IPaddr2::192.0.2.50"), tables) == (addresses[4],)
    assert holders(spec("IPaddr2::192.0.2.50/32/lo"), tables) == (addresses[3],)
    assert loopback_copies(vip, tables) == (addresses[3],)
    present = HostTables(HOST.links, (*addresses, Address(2, INET, "192.0.2.50", 24)), HOST.routes)
    assert find_present(vip, present, placement) == Address(2, INET, "192.0.2.50", 24)
