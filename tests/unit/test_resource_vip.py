"""The native virtual IP agent on a fake host and a fake announcer, driven by `task.Clock`."""

from __future__ import annotations

import dataclasses
import socket
from pathlib import Path

import pytest
from twisted.internet import task
from twisted.internet.defer import Deferred

from hbtwist.config.haresources import parse_resource
from hbtwist.config.model import Resource, ResourcePolicy, ResourceSettings
from hbtwist.resources.announce import (
    ARP_REPLY,
    ARP_REQUEST,
    Announcer,
    arp_frame,
    neighbour_advertisement,
)
from hbtwist.resources.findif import Address, HostTables, Link, Placement, Route
from hbtwist.resources.host import IFA_F_NODAD
from hbtwist.resources.interface import AgentContext, IResourceAgent, OperationResult, Outcome
from hbtwist.resources.ipspec import IpSpec
from hbtwist.resources.vip import DAD_POLL_MS, NativeIpAgent, native_ip_agent

INET, INET6 = socket.AF_INET, socket.AF_INET6
MAC = bytes.fromhex("020000000001")
LO = Link(1, "lo", loopback=True)
ETH0 = Link(2, "eth0", mac=MAC)


class FakeHost:
    """A host whose addresses change as the agent asks; `failing` names a method that raises."""

    def __init__(self, clock: task.Clock, *addresses: Address) -> None:
        self.clock = clock
        self.links = [LO, ETH0]
        self.addresses = list(addresses) or [Address(2, INET, "192.0.2.11", 24, broadcast="192.0.2.255")]
        self.routes = (
            Route(INET, "192.0.2.0", 24, 2, prefsrc="192.0.2.11"),
            Route(INET6, "2001:db8::", 64, 2, scope=0),
        )
        self.added: list[tuple[str, Placement, int]] = []
        self.deleted: list[Address] = []
        self.raised: list[str] = []
        self.failing: str | None = None
        self.tentative = False
        self.cost = 0.0
        """Seconds each netlink call takes on the clock."""
        self.reads = 0
        """How many times the tables were read."""
        self._seen: tuple[object, ...] | None = None

    def _call(self, name: str) -> None:
        self.clock.advance(self.cost)
        if self.failing == name:
            raise OSError(1, f"{name} refused")

    def tables(self, family: int, routes: bool = True) -> HostTables:
        self._call("tables")
        self.reads += 1
        mine = tuple(address for address in self.addresses if address.family == family)
        return HostTables(tuple(self.links), mine, self.routes if routes else ())

    def add(self, ip: str, placement: Placement, flags: int) -> None:
        self._call("add")
        self.added.append((ip, placement, flags))
        family = INET6 if ":" in ip else INET
        self.addresses.append(
            Address(
                placement.link.index,
                family,
                ip,
                placement.prefix,
                label=placement.label,
                broadcast=placement.broadcast,
                tentative=self.tentative and family == INET6,
            )
        )

    def delete(self, address: Address) -> None:
        self._call("delete")
        self.deleted.append(address)
        self.addresses.remove(address)

    def set_up(self, link: Link) -> None:
        self._call("set_up")
        self.links = [
            dataclasses.replace(item, up=True) if item == link else item for item in self.links
        ]

    def changed(self) -> bool:
        """Whether links, addresses or routes differ from the last call (the first call: True)."""
        self._call("changed")
        now = (tuple(self.links), tuple(self.addresses), tuple(self.routes))
        changed, self._seen = now != self._seen, now
        return changed

    def settle(self, tentative: bool = False, dadfailed: bool = False) -> None:
        """Set the flags of every IPv6 address (the end of duplicate address detection)."""
        self.addresses = [
            dataclasses.replace(item, tentative=tentative, dadfailed=dadfailed)
            if item.family == INET6
            else item
            for item in self.addresses
        ]


class FakeSender:
    """Records the clock time of each announcement; `fail_at` makes that send (1-based) fail."""

    def __init__(self, clock: task.Clock, fail_at: int | None = None) -> None:
        self.clock = clock
        self.sent: list[float] = []
        self.closed = False
        self.fail_at = fail_at

    def send(self) -> None:
        if self.fail_at == len(self.sent) + 1:
            raise OSError(100, "network down")
        self.sent.append(self.clock.seconds())

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def clock() -> task.Clock:
    """The agent's reactor clock."""
    return task.Clock()


def agent_for(
    word: str,
    clock: task.Clock,
    host: FakeHost,
    sender: FakeSender | None = None,
    policy: ResourcePolicy | None = None,
    rsctmp: str = "/nonexistent",
) -> NativeIpAgent:
    """The native agent of a haresources word on the fake host, announcing through `sender`."""
    context = AgentContext("/nonexistent", clock, ResourceSettings(default=policy or ResourcePolicy()))
    agent = native_ip_agent(parse_resource(word), context, host=host)
    assert isinstance(agent, NativeIpAgent)
    if sender is not None:
        agent._senders = lambda spec, link: sender
    agent._rsctmp = rsctmp
    return agent


def result_of(deferred: Deferred[OperationResult]) -> OperationResult:
    """The result a Deferred already fired with."""
    results: list[OperationResult] = []
    deferred.addCallback(results.append)
    assert results, "the operation has not finished"
    return results[0]


def test_start_adds_the_address_and_announces_at_once_then_on_the_clock(clock: task.Clock) -> None:
    """The first announcement leaves within start; the others come arp_interval apart."""
    host, sender = FakeHost(clock), FakeSender(clock)
    policy = ResourcePolicy(arp_count=3, arp_interval_ms=250)
    agent = agent_for("IPaddr2::192.0.2.50/24/eth0:web", clock, host, sender, policy)
    result = result_of(agent.start())
    assert (result.operation, result.outcome) == ("start", Outcome.OK)
    assert result.detail == "192.0.2.50/24 on eth0:web, announced"
    assert host.added == [("192.0.2.50", Placement(ETH0, 24, "192.0.2.255", "eth0:web"), 0)]
    assert sender.sent == [0.0] and agent.announcing
    clock.advance(0.25)
    clock.advance(0.25)
    assert sender.sent == [0.0, 0.25, 0.5]
    assert not agent.announcing and not sender.closed


def test_durations_are_measured_on_the_clock(clock: task.Clock) -> None:
    """Each operation's duration is the clock time it took, in milliseconds."""
    host = FakeHost(clock)
    host.cost = 0.002
    agent = agent_for(
        "IPaddr2::192.0.2.50/24/eth0", clock, host, FakeSender(clock), ResourcePolicy(arp_count=1)
    )
    assert result_of(agent.start()).duration_ms == 4
    assert result_of(agent.status()).duration_ms == 2


def test_start_of_a_present_address_adds_and_announces_nothing(clock: task.Clock) -> None:
    """Already served (address and prefix on the nic): success, as the agent's `ip_served`."""
    host = FakeHost(clock, Address(2, INET, "192.0.2.11", 24), Address(2, INET, "192.0.2.50", 24))
    sender = FakeSender(clock)
    result = result_of(agent_for("IPaddr2::192.0.2.50/24/eth0", clock, host, sender).start())
    assert (result.outcome, result.detail) == (Outcome.OK, "192.0.2.50/24 on eth0 present")
    assert host.added == [] and sender.sent == []


def test_stop_cancels_announcements_and_deletes_the_address(clock: task.Clock) -> None:
    """Stop drops what is still to be announced and removes the address; absent is success."""
    host, sender = FakeHost(clock), FakeSender(clock)
    agent = agent_for("IPaddr2::192.0.2.50/24/eth0", clock, host, sender)
    result_of(agent.start())
    stopped = result_of(agent.stop())
    assert (stopped.operation, stopped.outcome, stopped.detail) == (
        "stop",
        Outcome.OK,
        "192.0.2.50 removed",
    )
    assert [address.local for address in host.deleted] == ["192.0.2.50"]
    assert not agent.announcing and clock.getDelayedCalls() == []
    again = result_of(agent.stop())
    assert (again.outcome, again.detail) == (Outcome.OK, "192.0.2.50 not present")


def test_status_follows_the_address(clock: task.Clock) -> None:
    """Status (`monitor`) is OK while the address is on its interface, NOT_RUNNING otherwise."""
    host = FakeHost(clock)
    agent = agent_for(
        "IPaddr2::192.0.2.50/24/eth0", clock, host, FakeSender(clock), ResourcePolicy(arp_count=1)
    )
    before = result_of(agent.status())
    assert (before.operation, before.outcome) == ("monitor", Outcome.NOT_RUNNING)
    result_of(agent.start())
    assert result_of(agent.status()).outcome is Outcome.OK
    result_of(agent.stop())
    assert result_of(agent.status()).outcome is Outcome.NOT_RUNNING


def test_an_announcement_that_cannot_be_sent_fails_the_start_and_removes_the_address(
    clock: task.Clock,
) -> None:
    """No raw socket (not root): FAILED with the reason, and nothing is left behind."""
    host = FakeHost(clock)
    agent = agent_for("IPaddr2::192.0.2.50/24/eth0", clock, host)

    def refuse(spec: IpSpec, link: Link) -> FakeSender:
        raise PermissionError(1, "Operation not permitted")

    agent._senders = refuse
    result = result_of(agent.start())
    assert result.outcome is Outcome.FAILED
    assert "announcing 192.0.2.50 on eth0" in result.detail and "need root" in result.detail
    assert [address.local for address in host.addresses] == ["192.0.2.11"]


def test_a_later_announcement_failure_stops_the_rest(clock: task.Clock) -> None:
    """A send failing after the start ends the announcements (logged), the address stays."""
    host, sender = FakeHost(clock), FakeSender(clock, fail_at=2)
    agent = agent_for("IPaddr2::192.0.2.50/24/eth0", clock, host, sender)
    assert result_of(agent.start()).ok
    clock.advance(0.2)
    assert sender.sent == [0.0] and not agent.announcing
    assert result_of(agent.status()).ok


@pytest.mark.parametrize("failing", ["tables", "add"])
def test_netlink_errors_are_failed_results(clock: task.Clock, failing: str) -> None:
    """A netlink error is a FAILED result with its text, never an exception."""
    host = FakeHost(clock)
    host.failing = failing
    agent = agent_for("IPaddr2::192.0.2.50/24/eth0", clock, host, FakeSender(clock))
    result = result_of(agent.start())
    assert result.outcome is Outcome.FAILED and f"{failing} refused" in result.detail
    assert result_of(agent.status()).outcome is (
        Outcome.FAILED if failing == "tables" else Outcome.NOT_RUNNING
    )


def test_placement_errors_carry_the_agents_message(clock: task.Clock) -> None:
    """An address findif cannot place fails the start with the agent's words."""
    agent = agent_for("IPaddr2::203.0.113.9", clock, FakeHost(clock), FakeSender(clock))
    result = result_of(agent.start())
    assert (result.outcome, result.detail) == (Outcome.FAILED, "Unable to find nic or netmask.")


def test_a_down_link_is_brought_up_and_a_loopback_is_not_announced(clock: task.Clock) -> None:
    """As IPaddr2: the link is set up after the add; nothing is announced on a loopback."""
    host, sender = FakeHost(clock), FakeSender(clock)
    host.links = [LO, dataclasses.replace(ETH0, up=False)]
    on_eth0 = agent_for("IPaddr2::192.0.2.50/24/eth0", clock, host, sender)
    assert result_of(on_eth0.start()).ok
    assert all(link.up for link in host.links)
    loopback = result_of(agent_for("IPaddr2::192.0.2.60/32/lo", clock, host, sender).start())
    assert (loopback.outcome, loopback.detail) == (Outcome.OK, "192.0.2.60/32 on lo, not announced")
    assert len(sender.sent) == 1
    result_of(on_eth0.stop())


def test_ipv6_is_announced_once_address_detection_is_over(clock: task.Clock) -> None:
    """A tentative IPv6 address is polled on the clock; the announcement follows DAD."""
    host, sender = FakeHost(clock), FakeSender(clock)
    host.tentative = True
    agent = ocf_agent(clock, host, sender, ip="2001:db8::50", cidr_netmask="64", nic="eth0")
    started = agent.start()
    clock.advance(DAD_POLL_MS / 1000)
    assert not started.called and sender.sent == []
    host.settle(tentative=False)
    clock.advance(DAD_POLL_MS / 1000)
    result = result_of(started)
    assert (result.outcome, result.duration_ms) == (Outcome.OK, 2 * DAD_POLL_MS)
    assert sender.sent == [0.2]
    result_of(agent.stop())


def test_ipv6_duplicate_fails_the_start_and_removes_the_address(clock: task.Clock) -> None:
    """DAD failed: FAILED as IPaddr2 says it, and the address is deleted."""
    host, sender = FakeHost(clock), FakeSender(clock)
    host.tentative = True
    agent = ocf_agent(clock, host, sender, ip="2001:db8::50", cidr_netmask="64", nic="eth0")
    started = agent.start()
    host.settle(tentative=False, dadfailed=True)
    clock.advance(DAD_POLL_MS / 1000)
    result = result_of(started)
    assert (result.outcome, result.detail) == (
        Outcome.FAILED,
        "IPv6 address collision 2001:db8::50 [DAD]",
    )
    assert [address.local for address in host.deleted] == ["2001:db8::50"] and sender.sent == []


def test_stop_during_address_detection_ends_the_start(clock: task.Clock) -> None:
    """A stop while DAD runs fails the pending start and leaves no poll behind."""
    host = FakeHost(clock)
    host.tentative = True
    agent = ocf_agent(clock, host, FakeSender(clock), ip="2001:db8::50", cidr_netmask="64", nic="eth0")
    started = agent.start()
    assert result_of(agent.stop()).ok
    assert result_of(started).outcome is Outcome.FAILED and clock.getDelayedCalls() == []


def test_nodad_is_announced_at_once(clock: task.Clock) -> None:
    """With nodad the address is added with IFA_F_NODAD and announced within start."""
    host, sender = FakeHost(clock), FakeSender(clock)
    host.tentative = True
    agent = ocf_agent(
        clock, host, sender, ip="2001:db8::50", cidr_netmask="64", nic="eth0", nodad="true"
    )
    assert result_of(agent.start()).ok and sender.sent == [0.0]
    assert host.added[0][2] == IFA_F_NODAD
    result_of(agent.stop())


def test_lvs_support_moves_a_loopback_copy_away_and_back(clock: task.Clock, tmp_path: Path) -> None:
    """IPaddr2's wrapper sets lvs_support: a /32 on lo is recorded, removed, and restored at stop."""
    host = FakeHost(
        clock, Address(2, INET, "192.0.2.11", 24), Address(1, INET, "192.0.2.50", 32, label="lo")
    )
    agent = agent_for(
        "IPaddr2::192.0.2.50/24/eth0", clock, host, FakeSender(clock), ResourcePolicy(arp_count=1)
    )
    agent._rsctmp = str(tmp_path)
    assert result_of(agent.start()).ok
    assert (tmp_path / "192.0.2.50").read_text() == "192.0.2.50 32 255.255.255.255 lo\n"
    assert [(a.index, a.prefix) for a in host.addresses if a.local == "192.0.2.50"] == [(2, 24)]
    assert result_of(agent.stop()).ok
    assert host.added[-1] == ("192.0.2.50", Placement(LO, 32, "255.255.255.255", None), 0)
    assert not (tmp_path / "192.0.2.50").exists()


def test_lvs_record_that_cannot_be_written_still_moves_the_copy(
    clock: task.Clock, tmp_path: Path
) -> None:
    """As IPaddr2: an unwritable record is logged, the copy is removed and not restored."""
    host = FakeHost(
        clock, Address(2, INET, "192.0.2.11", 24), Address(1, INET, "192.0.2.50", 32, label="lo")
    )
    policy = ResourcePolicy(arp_count=1)
    agent = agent_for(
        "IPaddr2::192.0.2.50/24/eth0", clock, host, FakeSender(clock), policy, str(tmp_path / "none")
    )
    assert result_of(agent.start()).ok
    assert result_of(agent.stop()).ok
    assert [address.local for address in host.addresses] == ["192.0.2.11"]


def ocf_agent(clock: task.Clock, host: FakeHost, sender: FakeSender, **parameters: str) -> NativeIpAgent:
    """The native agent of `OCF::IPaddr2::vip` whose instance file sets `parameters`."""
    environment = {f"OCF_RESKEY_{name}": value for name, value in parameters.items()}
    resource = Resource("OCF", ("IPaddr2", "vip"), "OCF::IPaddr2::vip")
    agent = native_ip_agent(resource, AgentContext("/nonexistent", clock), lambda *_: environment, host)
    assert isinstance(agent, NativeIpAgent)
    agent._senders = lambda spec, link: sender
    return agent


def test_which_resources_get_a_native_agent(clock: task.Clock) -> None:
    """IP resources do, unless their policy forbids it or they need the agent; others do not."""
    context = AgentContext("/nonexistent", clock)
    host = FakeHost(clock)
    native = native_ip_agent(parse_resource("192.0.2.50"), context, host=host)
    assert native is not None and IResourceAgent.providedBy(native) and native.path == "native"
    assert native_ip_agent(parse_resource("httpd"), context, host=host) is None
    off = ResourceSettings(overrides=(("192.0.2.50", ResourcePolicy(native_ip=False)),))
    assert (
        native_ip_agent(parse_resource("192.0.2.50"), AgentContext("/x", clock, off), host=host) is None
    )
    ocf = Resource("OCF", ("IPaddr2", "vip"), "OCF::IPaddr2::vip")
    assert (
        native_ip_agent(
            ocf, context, lambda *_: {"OCF_RESKEY_ip": "192.0.2.50", "OCF_RESKEY_mac": "x"}, host
        )
        is None
    )
    assert native_ip_agent(ocf, context, lambda *_: None, host) is None


def test_instance_files_are_read_from_the_configuration_directory(
    clock: task.Clock, tmp_path: Path
) -> None:
    """By default an OCF instance's parameters come from conf/OCF/<type>/<instance>."""
    instance = tmp_path / "conf" / "OCF" / "IPaddr2" / "vip"
    instance.parent.mkdir(parents=True)
    instance.write_text("OCF_RESKEY_ip=192.0.2.50\nOCF_RESKEY_arp_count=2\n")
    context = AgentContext(str(tmp_path), clock, heartbeat_dir=str(tmp_path / "none"))
    resource = Resource("OCF", ("IPaddr2", "vip"), "OCF::IPaddr2::vip")
    agent = native_ip_agent(resource, context, host=FakeHost(clock))
    assert isinstance(agent, NativeIpAgent) and agent.spec.arp_count == 2
    instance.write_text("OCF_RESKEY_ip=$(reboot)\n")
    assert native_ip_agent(resource, context, host=FakeHost(clock)) is None


def test_the_policy_decides_the_announcements_of_haresources_addresses(clock: task.Clock) -> None:
    """IPaddr/IPaddr2 scripts announce arp_count times; an OCF instance as its parameters say."""
    policy = ResourcePolicy(arp_count=2, arp_interval_ms=50)
    host, sender = FakeHost(clock), FakeSender(clock)
    agent = agent_for("192.0.2.50", clock, host, sender, policy)
    result_of(agent.start())
    clock.advance(0.05)
    assert sender.sent == [0.0, 0.05] and not agent.announcing
    ocf = FakeSender(clock)
    instance = ocf_agent(clock, host, ocf, ip="192.0.2.60", nic="eth0", arp_count="1")
    result_of(instance.start())
    assert ocf.sent == [0.05] and not instance.announcing


def test_arp_frames_are_those_of_send_arp() -> None:
    """Broadcast request (target MAC zero) and reply (target MAC ours), sender = target = VIP."""
    request = arp_frame(MAC, "192.0.2.50", ARP_REQUEST)
    reply = arp_frame(MAC, "192.0.2.50", ARP_REPLY)
    address = bytes([192, 0, 2, 50])
    header = b"\xff" * 6 + MAC + b"\x08\x06" + bytes.fromhex("000108000604")
    assert request == header + b"\x00\x01" + MAC + address + bytes(6) + address
    assert reply == header + b"\x00\x02" + MAC + address + MAC + address


def test_neighbour_advertisement_is_that_of_send_ua() -> None:
    """Type 136, override flag, the target, and our link-layer address (checksum left to the kernel)."""
    captured = "8800de912000000020010db80000000000000000000000520201de6b482ff55c"
    expected = bytes.fromhex(captured[:4] + "0000" + captured[8:])
    assert neighbour_advertisement(bytes.fromhex("de6b482ff55c"), "2001:db8::52") == expected


def test_announcer_with_nothing_to_send_sends_nothing(clock: task.Clock) -> None:
    """A count of zero sends nothing and schedules nothing."""
    sender = FakeSender(clock)
    announcer = Announcer(clock, sender, 0, 200, lambda error: None)
    announcer.start()
    assert sender.sent == [] and not announcer.pending


def test_the_announcing_socket_is_kept_between_starts(clock: task.Clock) -> None:
    """One socket per link serves every start (closing one stalls); a new link gets a new one."""
    host = FakeHost(clock)
    opened: list[FakeSender] = []

    def open_one(spec: IpSpec, link: Link) -> FakeSender:
        opened.append(FakeSender(clock))
        return opened[-1]

    agent = agent_for("IPaddr2::192.0.2.50/24/eth0", clock, host, policy=ResourcePolicy(arp_count=1))
    agent._senders = open_one
    for _ in range(2):
        result_of(agent.start())
        result_of(agent.stop())
    assert len(opened) == 1 and opened[0].sent == [0.0, 0.0] and not opened[0].closed
    host.links = [LO, dataclasses.replace(ETH0, mac=bytes.fromhex("020000000002"))]
    result_of(agent.start())
    assert len(opened) == 2 and opened[0].closed and opened[1].sent == [0.0]
    result_of(agent.stop())
