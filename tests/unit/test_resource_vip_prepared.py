"""The native virtual IP prepared ahead of a start: the placement and the announcing socket are
worked out before, and a start on an unchanged host is one add and the first announcement."""

from __future__ import annotations

import dataclasses

import pytest
from twisted.internet import task

from hbtwist.config.model import ResourcePolicy
from hbtwist.resources.findif import Address, Link, Placement, Route
from hbtwist.resources.ipspec import IpSpec
from hbtwist.resources.vip import NativeIpAgent
from tests.unit.test_resource_vip import (
    ETH0,
    INET,
    LO,
    FakeHost,
    FakeSender,
    agent_for,
    result_of,
)

ONE = ResourcePolicy(arp_count=1)
ON_ETH0 = Placement(ETH0, 24, "192.0.2.255", None)


@pytest.fixture
def clock() -> task.Clock:
    """The agent's reactor clock."""
    return task.Clock()


def prepared(word: str, clock: task.Clock, host: FakeHost, sender: FakeSender) -> NativeIpAgent:
    """An agent for `word`, prepared, with the host's reads counted from then on."""
    agent = agent_for(word, clock, host, sender, ONE)
    agent.prepare()
    host.reads = 0
    return agent


def test_a_prepared_start_on_an_unchanged_host_reads_nothing(clock: task.Clock) -> None:
    """Prepared and nothing changed: the start adds where prepare placed the address and
    announces, without reading the host's tables."""
    host, sender = FakeHost(clock), FakeSender(clock)
    agent = prepared("IPaddr2::192.0.2.50/24/eth0", clock, host, sender)
    result = result_of(agent.start())
    assert (result.outcome.value, result.detail) == ("ok", "192.0.2.50/24 on eth0, announced")
    assert host.reads == 0
    assert host.added == [("192.0.2.50", ON_ETH0, 0)] and sender.sent == [0.0]


def test_prepare_opens_the_announcing_socket(clock: task.Clock) -> None:
    """The raw socket is opened by prepare, not by the start."""
    host = FakeHost(clock)
    opened: list[Link] = []

    def open_one(spec: IpSpec, link: Link) -> FakeSender:
        opened.append(link)
        return FakeSender(clock)

    agent = agent_for("IPaddr2::192.0.2.50/24/eth0", clock, host, policy=ONE)
    agent._senders = open_one
    agent.prepare()
    assert opened == [ETH0]
    assert result_of(agent.start()).ok and opened == [ETH0]


def test_a_change_after_prepare_makes_the_start_read_the_host(clock: task.Clock) -> None:
    """A route changed since prepare: the start reads the tables again and places the address
    as findif now would (here the narrower prefix)."""
    host, sender = FakeHost(clock), FakeSender(clock)
    agent = prepared("IPaddr2::192.0.2.70", clock, host, sender)
    host.routes = (*host.routes, Route(INET, "192.0.2.64", 26, 2))
    assert result_of(agent.start()).ok
    assert host.reads == 1
    assert [(ip, placement.prefix) for ip, placement, _ in host.added] == [("192.0.2.70", 26)]


def test_a_refused_prepared_add_falls_back_to_the_full_start(clock: task.Clock) -> None:
    """The add at the prepared place is refused: the start reads the host and tries as before,
    reporting that failure."""
    host, sender = FakeHost(clock), FakeSender(clock)
    agent = prepared("IPaddr2::192.0.2.50/24/eth0", clock, host, sender)
    host.failing = "add"
    result = result_of(agent.start())
    assert (result.outcome.value, result.detail) == (
        "failed",
        "adding 192.0.2.50: [Errno 1] add refused",
    )
    assert host.reads == 1 and sender.sent == []


def test_nothing_is_prepared_when_the_start_has_more_to_do(clock: task.Clock) -> None:
    """Present already, a loopback copy to move, or a down link: the start reads the host."""
    present = FakeHost(clock, Address(2, INET, "192.0.2.11", 24), Address(2, INET, "192.0.2.50", 24))
    copy = FakeHost(clock, Address(2, INET, "192.0.2.11", 24), Address(1, INET, "192.0.2.50", 32))
    down = FakeHost(clock)
    down.links = [LO, dataclasses.replace(ETH0, up=False)]
    for host in (present, copy, down):
        agent = prepared("IPaddr2::192.0.2.50/24/eth0", clock, host, FakeSender(clock))
        agent._rsctmp = "/nonexistent"
        assert result_of(agent.start()).ok
        assert host.reads == 1
        result_of(agent.stop())


def test_a_stop_prepares_the_next_start(clock: task.Clock) -> None:
    """After a stop the next start is a prepared one again; a start uses what was prepared once."""
    host, sender = FakeHost(clock), FakeSender(clock)
    agent = prepared("IPaddr2::192.0.2.50/24/eth0", clock, host, sender)
    assert result_of(agent.start()).ok
    assert result_of(agent.stop()).ok
    host.reads = 0
    assert result_of(agent.start()).ok
    assert host.reads == 0
    again = result_of(agent.start())
    assert (again.detail, host.reads) == ("192.0.2.50/24 on eth0 present", 1)
    assert len(host.added) == 2
    result_of(agent.stop())


def test_a_failed_prepare_leaves_the_start_to_read_the_host(clock: task.Clock) -> None:
    """Prepare never raises; when it cannot read the host the start does the whole work."""
    host, sender = FakeHost(clock), FakeSender(clock)
    host.failing = "tables"
    agent = prepared("IPaddr2::192.0.2.50/24/eth0", clock, host, sender)
    host.failing = None
    assert result_of(agent.start()).ok
    assert host.reads == 1 and host.added == [("192.0.2.50", ON_ETH0, 0)]
    result_of(agent.stop())
