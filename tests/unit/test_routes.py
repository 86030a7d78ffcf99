"""Acknowledgements skip the unicast links of other nodes, learned from where statuses come from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from twisted.internet.task import Clock
from zope.interface import alsoProvides, implementer

from hbtwist.core.node import NodeCore
from hbtwist.core.stamp import Identity, Stamper
from hbtwist.media.interface import IMediumLink, IUnicastLink, Outgoing
from hbtwist.media.routes import UnicastRoutes
from hbtwist.wire import Message, encode_datagram
from tests.simnet import SimOutput
from tests.unit.test_inbound import KEYRING, TIMING
from tests.unit.test_node_service import _node as service_node


@implementer(IMediumLink)
class Link:
    """A link that only has a name and, for a unicast one, the host it sends to."""

    def __init__(self, name: str, peer_host: str | None = None) -> None:
        self.name = name
        self.medium = None
        self.send_failures = 0
        if peer_host is not None:
            self.peer_host = peer_host
            alsoProvides(self, IUnicastLink)

    def start(self) -> None:
        """Nothing to open."""

    def stop(self) -> None:
        """Nothing to close."""

    def send(self, outgoing: Outgoing) -> None:
        """Nothing to send."""


TO_BETA = Link("ucast eth0 192.0.2.12", "192.0.2.12")
TO_GAMMA = Link("ucast eth0 192.0.2.13", "192.0.2.13")
BROADCAST = Link("bcast eth1")
LINKS = [TO_BETA, TO_GAMMA, BROADCAST]


def test_unknown_addresses_carry_everything() -> None:
    """Before any status was heard, a message for one node takes every link."""
    assert UnicastRoutes(LINKS).links_to("beta") == LINKS


def test_a_message_for_one_node_skips_the_unicast_links_of_the_others() -> None:
    """Once beta and gamma were heard from their addresses, a message for beta skips gamma's
    unicast link and keeps its own and the broadcast."""
    routes = UnicastRoutes(LINKS)
    routes.heard("beta", ("192.0.2.12", 694))
    routes.heard("gamma", ("192.0.2.13", 694))
    assert routes.links_to("beta") == [TO_BETA, BROADCAST]
    assert routes.links_to("gamma") == [TO_GAMMA, BROADCAST]


def test_an_address_shared_by_nodes_reaches_each_of_them() -> None:
    """Two nodes heard from one address (behind one router) both get messages through it."""
    routes = UnicastRoutes(LINKS)
    routes.heard("gamma", ("192.0.2.13", 694))
    assert routes.links_to("delta") == [TO_BETA, BROADCAST]
    routes.heard("delta", ("192.0.2.13", 694))
    assert routes.links_to("delta") == LINKS


def test_sources_without_an_address_teach_nothing() -> None:
    """A serial line's source (None) or an odd one leaves every link in use."""
    routes = UnicastRoutes(LINKS)
    for source in (None, (), "192.0.2.13", (13, 694)):
        routes.heard("gamma", source)
    assert routes.links_to("beta") == LINKS


class RecordingOutput(SimOutput):
    """A core output recording what went everywhere, what went to one node, and the sources."""

    def __init__(self) -> None:
        self.everywhere: list[Message] = []
        super().__init__(self.everywhere.append)
        self.only_for: list[tuple[str, Message]] = []
        self.sources: list[tuple[str, Any]] = []

    def transmit_to(self, message: Message, node: str) -> None:
        self.only_for.append((node, message))

    def heard_from(self, node: str, source: object) -> None:
        self.sources.append((node, source))


def test_the_core_sends_acknowledgements_to_their_node_and_reports_status_sources() -> None:
    """node1 acknowledges node2's statuses through `transmit_to(node2)`, never everywhere, and
    reports the address each status of node2 came from."""
    clock = Clock()
    output = RecordingOutput()
    core = NodeCore(
        stamper=_stamper("node1", clock),
        nodes=["node1", "node2"],
        links=["eth0", "eth1"],
        timing=TIMING,
        clock=clock,
        output=output,
    )
    core.start()
    node2 = _stamper("node2", clock)
    status = Message.of(("t", "status"), ("st", "up"), ("dt", "1f4"), ("protocol", "1"))
    for _ in range(12):
        clock.advance(0.1)
        datagram = encode_datagram(node2.stamp(status), KEYRING)
        core.datagram_received(datagram, "eth0", ("192.0.2.12", 694))
    acks = [(node, m.text("dest")) for node, m in output.only_for if m.text("t") == "NS_ackmsg"]
    assert acks and set(acks) == {("node2", "node2")}
    assert not [m for m in output.everywhere if m.text("t") == "NS_ackmsg"]
    assert set(output.sources) == {("node2", ("192.0.2.12", 694))}
    assert len(output.sources) == 12
    core.stop()


def test_the_node_service_sends_a_message_for_one_node_on_its_links_only(tmp_path: Path) -> None:
    """The daemon skips the unicast link whose address another node's statuses came from."""
    node, kinds, _ = service_node(tmp_path)
    for link, host in zip(kinds.links, ("127.0.0.1", "127.0.0.2"), strict=True):
        link.peer_host = host
        alsoProvides(link, IUnicastLink)
    node.startService()
    node.heard_from("beta", ("127.0.0.2", 694))
    node.heard_from("gamma", ("127.0.0.1", 694))
    before = [len(link.sent) for link in kinds.links]
    ack = node.core.delivery.stamper.stamp(Message.of(("t", "NS_ackmsg"), ("dest", "beta")))
    node.transmit_to(ack, "beta")
    assert [len(link.sent) - count for link, count in zip(kinds.links, before, strict=True)] == [0, 1]
    node.stopService()


def _stamper(name: str, clock: Clock) -> Stamper:
    return Stamper(
        Identity(name, name.encode().ljust(16, b"\0"), 7),
        KEYRING,
        ttl=3,
        inner_auth=True,
        wallclock=clock.seconds,
        loadavg=lambda: "0.00 0.00 0.00 1/100 1",
    )
