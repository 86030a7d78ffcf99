"""The control protocol in memory: a real engine on a simulated network, AMP through a fake pump."""

from __future__ import annotations

import json
import random
import typing
from pathlib import Path
from typing import Any

import pytest
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.protocols import amp
from twisted.test import iosim

from hbtwist import __version__
from hbtwist.config import ClusterConfig, load_config
from hbtwist.control import protocol as p
from hbtwist.control import server as control_server
from hbtwist.control.client import ClientProtocol, ControlClient
from hbtwist.control.server import ControlProtocol, page
from hbtwist.control.view import NodeView
from hbtwist.core import events
from hbtwist.core.node import NodeCore
from hbtwist.core.stamp import Identity, Stamper
from tests.conftest import THREE_NODE_HA_CF, write_config
from tests.doubles.control import FakeNode, connect_in_memory, run_pumped
from tests.simnet import FAST, KEYRING, SimNet, SimNode, SimOutput

NAMES = ["alpha", "beta", "gamma"]


def cluster_config(directory: Path) -> ClusterConfig:
    """The ha.cf of the simulated cluster, loaded as node alpha."""
    write_config(directory, ha_cf=THREE_NODE_HA_CF, haresources="")
    return load_config(directory, local_node="alpha")


def simulated(directory: Path, seconds: float = 6.0) -> tuple[SimNet, FakeNode, NodeView]:
    """A started three-node SimNet and a control view of node alpha after `seconds`."""
    net = SimNet(list(NAMES))
    node = FakeNode(net.nodes["alpha"], cluster_config(directory))
    net.start()
    net.run(seconds)
    return net, node, NodeView(node, net.clock)


def big_membership(count: int, name_length: int = 8) -> tuple[NodeView, list[str]]:
    """A view of a node core (not started) configured with `count` nodes of long-ish names."""
    names = [f"n{index:05d}".ljust(name_length, "x") for index in range(count)]
    clock = Clock()
    identity = Identity(names[0], b"\x01" * 16, 7)
    stamper = Stamper(
        identity,
        KEYRING,
        ttl=2,
        inner_auth=True,
        wallclock=clock.seconds,
        loadavg=lambda: "0",
    )
    output = SimOutput(lambda message: None)
    core = NodeCore(
        stamper=stamper,
        nodes=names,
        links=("eth0", "eth1"),
        timing=FAST,
        clock=clock,
        output=output,
        rng=random.Random(1),
    )

    class Config:
        hacf = None

    return NodeView(FakeNode(SimNode(names[0], core, output), Config()), clock), names  # type: ignore[arg-type]


@pytest.fixture
def sim(tmp_path: Path) -> tuple[SimNet, FakeNode, NodeView]:
    """A three-node cluster up for six simulated seconds (past the start-up extra deadtime)."""
    return simulated(tmp_path / "ha.d")


def test_version(sim: tuple[SimNet, FakeNode, NodeView]) -> None:
    """Version names protocol 1, the daemon version and every implemented command."""
    client, _, pump = connect_in_memory(sim[2])
    answer = run_pumped(pump, client.version())
    assert answer["protocol"] == p.PROTOCOL_VERSION == 1
    assert answer["daemon"] == f"hbtwist {__version__}"
    assert answer["heartbeat"] == "3.0.6"
    assert {"Nodes", "Links", "Subscribe", "Parameter"} <= set(answer["commands"])
    assert {"ResourceStatus", "Standby", "Takeover"} <= set(answer["commands"])


def test_local_status(sim: tuple[SimNet, FakeNode, NodeView]) -> None:
    """LocalStatus reports name, active status, generation, uuid, comm-up, uptime and timers."""
    net, _, view = sim
    client, _, pump = connect_in_memory(view)
    net.run(1.5)
    answer = run_pumped(pump, client.local_status())
    assert answer["node"] == "alpha"
    assert answer["status"] == "active"
    assert answer["comm_up"] is True
    assert answer["generation"] == 100
    assert answer["uuid"] == b"alpha".ljust(16, b"\0").hex()
    assert answer["uptime"] == pytest.approx(1.5, abs=0.01)
    assert (answer["keepalive_ms"], answer["deadtime_ms"]) == (100, 500)
    assert answer["cluster"] == "linux-ha"


def test_nodes(sim: tuple[SimNet, FakeNode, NodeView]) -> None:
    """Nodes lists every node in configuration order with status and heartbeat counters."""
    client, _, pump = connect_in_memory(sim[2])
    nodes = run_pumped(pump, client.nodes())
    assert [node["name"] for node in nodes] == NAMES
    assert {node["status"] for node in nodes} == {"active"}
    assert {node["type"] for node in nodes} == {"normal"}
    local, beta = nodes[0], nodes[1]
    assert local["since_heartbeat"] is None and local["heartbeats"] == 0
    assert beta["heartbeats"] >= 15 and beta["late_heartbeats"] == 0
    assert 0 <= beta["since_heartbeat"] < 0.2
    assert beta["deadtime_ms"] == 500 and beta["generation"] == 100
    assert beta["uuid"] == b"beta".ljust(16, b"\0").hex()
    assert (beta["weight"], beta["site"]) == (100, "")


def test_node_by_name(sim: tuple[SimNet, FakeNode, NodeView]) -> None:
    """Node finds a node case-insensitively and refuses an unknown one with UNKNOWN_NODE."""
    client, _, pump = connect_in_memory(sim[2])
    assert run_pumped(pump, client.node("GAMMA"))["name"] == "gamma"
    with pytest.raises(p.UnknownNode):
        run_pumped(pump, client.node("delta"))


def test_links_of_all_and_one(sim: tuple[SimNet, FakeNode, NodeView]) -> None:
    """Links lists every node's links (peers up, our own never heard) or one node's."""
    client, _, pump = connect_in_memory(sim[2])
    every = run_pumped(pump, client.links())
    assert [(link["node"], link["link"]) for link in every] == [
        (node, link) for node in NAMES for link in ("eth0", "eth1")
    ]
    status = {(link["node"], link["link"]): link["status"] for link in every}
    assert status[("alpha", "eth0")] == "dead"
    assert status[("beta", "eth1")] == "up"
    beta = run_pumped(pump, client.links("beta"))
    assert [link["link"] for link in beta] == ["eth0", "eth1"]
    assert all(link["heard"] > 0 and link["transitions"] == 1 for link in beta)
    assert all(0 <= link["since_heard"] < 0.2 for link in beta)
    with pytest.raises(p.UnknownNode):
        run_pumped(pump, client.links("delta"))


def test_link_down_after_cut(sim: tuple[SimNet, FakeNode, NodeView]) -> None:
    """A cut medium shows as a dead link with one more transition after the deadtime."""
    net, _, view = sim
    net.cut("beta", "eth1")
    net.run(1.0)
    client, _, pump = connect_in_memory(view)
    links = {link["link"]: link for link in run_pumped(pump, client.links("beta"))}
    assert links["eth1"]["status"] == "dead" and links["eth1"]["transitions"] == 2
    assert links["eth1"]["since_heard"] > 0.5
    assert links["eth0"]["status"] == "up"


def test_paging_over_many_nodes() -> None:
    """Nodes and Links come in pages of `limit` with `next`, and the client gathers them all."""
    view, names = big_membership(250)
    answer = page(view.nodes(), p.NODE_FIELDS, 0, 100)
    assert len(answer["items"]) == 100 and answer["next"] == 100 and answer["total"] == 250
    last = page(view.nodes(), p.NODE_FIELDS, 200, 100)
    assert len(last["items"]) == 50 and last["next"] is None
    client, _, pump = connect_in_memory(view)
    assert [node["name"] for node in run_pumped(pump, client.nodes())] == names
    links = run_pumped(pump, client.links())
    assert len(links) == 500 and links[-1]["node"] == names[-1]


def test_pages_stay_under_the_amp_value_cap() -> None:
    """With long names a page is cut by size, below AMP's 64 KiB per value, and still complete."""
    view, names = big_membership(400, name_length=200)
    answer = page(view.nodes(), p.NODE_FIELDS, 0, p.MAX_PAGE_LIMIT)
    size = sum(p.item_size(p.NODE_FIELDS, item) for item in answer["items"])
    assert size <= p.PAGE_BUDGET_BYTES < amp.MAX_VALUE_LENGTH
    assert 0 < len(answer["items"]) < 400 and answer["next"] == len(answer["items"])
    client, _, pump = connect_in_memory(view)
    assert [node["name"] for node in run_pumped(pump, client.nodes())] == names


def test_bad_paging_arguments() -> None:
    """A negative offset or a limit below 1 is refused with BAD_REQUEST."""
    view, _ = big_membership(3)
    client, _, pump = connect_in_memory(view)
    with pytest.raises(p.BadRequest):
        run_pumped(pump, client.call(p.Nodes, offset=-1))
    with pytest.raises(p.BadRequest):
        run_pumped(pump, client.call(p.Links, limit=0))
    beyond = run_pumped(pump, client.call(p.Nodes, offset=10))
    assert beyond["items"] == [] and beyond.get("next") is None


def test_parameter_and_resources(sim: tuple[SimNet, FakeNode, NodeView]) -> None:
    """Parameter gives getparm values (as written, defaults, hbversion, absent); Resources none."""
    client, _, pump = connect_in_memory(sim[2])
    assert run_pumped(pump, client.parameter("deadtime")) == "500ms"
    assert run_pumped(pump, client.parameter("auto_failback")) == "legacy"
    assert run_pumped(pump, client.parameter("hbversion")) == f"3.0.6 (hbtwist {__version__})"
    assert run_pumped(pump, client.parameter("watchdog")) is None
    assert run_pumped(pump, client.parameter("no-such-thing")) is None
    assert run_pumped(pump, client.resources()) == "none"


def test_unknown_commands_are_unhandled(sim: tuple[SimNet, FakeNode, NodeView]) -> None:
    """A command the daemon does not know is answered with AMP's UNHANDLED error."""

    class Failover(amp.Command):
        commandName = b"Failover"

    client, _, pump = connect_in_memory(sim[2])
    with pytest.raises(amp.UnhandledCommand):
        run_pumped(pump, client.call(Failover))


def test_events_after_a_network_cut(sim: tuple[SimNet, FakeNode, NodeView]) -> None:
    """A subscriber gets link-dead and node-dead events, in order, after gamma is cut off."""
    net, node, view = sim
    client, _, pump = connect_in_memory(view)
    received: list[dict[str, Any]] = []
    closed = Deferred.fromCoroutine(client.subscribe(received.append))
    pump.flush()
    assert len(node.subscribers) == 1
    net.cut("gamma", "eth0")
    net.cut("gamma", "eth1")
    for _ in range(200):
        net.run(0.005)
        pump.flush()
    kinds = [(event["kind"], json.loads(event["fields"])) for event in received]
    assert [event["seq"] for event in received] == list(range(1, len(received) + 1))
    for link in ("eth0", "eth1"):
        fields = {"node": "gamma", "link": link, "old": "up", "new": "dead"}
        assert ("link_status_changed", fields) in kinds
    dead = ("node_status_changed", {"node": "gamma", "old": "active", "new": "dead", "generation": 100})
    assert dead in kinds
    assert all(event["time"] >= net.clock.seconds() - 1.0 for event in received)
    assert not closed.called


def test_unsubscribed_on_disconnect(sim: tuple[SimNet, FakeNode, NodeView]) -> None:
    """Closing a subscribed connection removes its subscriber and ends the client's stream."""
    _, node, view = sim
    client, _, pump = connect_in_memory(view)
    closed = Deferred.fromCoroutine(client.subscribe(lambda event: None))
    pump.flush()
    assert len(node.subscribers) == 1
    client.close()
    pump.flush()
    assert node.subscribers == []
    assert closed.called


def test_slow_subscriber_is_dropped(
    sim: tuple[SimNet, FakeNode, NodeView], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A subscriber whose connection stays unwritable is disconnected once too many events queue."""
    _, node, view = sim
    monkeypatch.setattr(control_server, "MAX_QUEUED_EVENTS", 5)
    client, server, pump = connect_in_memory(view)
    received: list[dict[str, Any]] = []
    closed = Deferred.fromCoroutine(client.subscribe(received.append))
    pump.flush()
    server.transport.producer.pauseProducing()  # type: ignore[union-attr]
    for _ in range(6):
        node.emit(events.CommUp("alpha"))
    pump.flush()
    assert received == []
    assert node.subscribers == []
    assert closed.called


def test_paused_subscriber_catches_up() -> None:
    """Events held while the transport was full are sent in order once it resumes."""
    view, _ = big_membership(2)
    client, server, pump = connect_in_memory(view)
    received: list[dict[str, Any]] = []
    Deferred.fromCoroutine(client.subscribe(received.append))
    pump.flush()
    producer = server.transport.producer  # type: ignore[union-attr]
    producer.pauseProducing()
    node = view._node  # the FakeNode behind the view
    for index in range(3):
        node.emit(events.LocalStall(index))  # type: ignore[attr-defined]
    pump.flush()
    assert received == []
    producer.resumeProducing()
    pump.flush()
    assert [json.loads(event["fields"])["stalled_ms"] for event in received] == [0, 1, 2]


def test_event_kind_names() -> None:
    """Event kinds on the wire come from the explicit table, one distinct name per event class."""
    link_down = events.LinkStatusChanged("a", "eth0", "up", "dead")
    assert events.event_name(link_down) == "link_status_changed"
    assert events.event_name(events.CommUp("a")) == "comm_up"
    assert events.event_name(events.LateHeartbeat("a", 1, False)) == "late_heartbeat"
    assert events.event_name(events.MessagesLost("a", 1, 2, "x")) == "messages_lost"
    assert set(events.EVENT_NAMES) == set(typing.get_args(events.Event))
    assert len(set(events.EVENT_NAMES.values())) == len(events.EVENT_NAMES)


def _broken_check(transport: object) -> str | None:
    raise ValueError("unparsable certificate")


@pytest.mark.parametrize(
    ("check", "refusal"),
    [
        (lambda transport: "no subjectAltName", "no subjectAltName"),
        (_broken_check, "identity check failed: unparsable certificate"),
    ],
    ids=["refused", "check-raises"],
)
def test_peer_check_gates_requests(
    sim: tuple[SimNet, FakeNode, NodeView], check: Any, refusal: str
) -> None:
    """A refusing (or failing) peer check aborts after the handshake; nothing is answered."""
    server = ControlProtocol(sim[2], peer_check=check)
    client_protocol = ClientProtocol()
    pump = iosim.connect(
        server, iosim.makeFakeServer(server), client_protocol, iosim.makeFakeClient(client_protocol)
    )
    client = ControlClient(client_protocol, "memory")
    answer = Deferred.fromCoroutine(client.version())
    pump.flush()
    assert not answer.called  # before the handshake nothing is read
    server.handshakeCompleted()
    pump.flush()
    assert server.refusal == refusal and not server.authorized
    failures: list[Any] = []
    answer.addErrback(failures.append)
    assert failures, "the request must fail, not be answered"


def test_peer_check_accepts(sim: tuple[SimNet, FakeNode, NodeView]) -> None:
    """A connection whose peer check passes is answered once the handshake completes."""
    server = ControlProtocol(sim[2], peer_check=lambda transport: None)
    client_protocol = ClientProtocol()
    pump = iosim.connect(
        server, iosim.makeFakeServer(server), client_protocol, iosim.makeFakeClient(client_protocol)
    )
    server.handshakeCompleted()
    client = ControlClient(client_protocol, "memory")
    assert run_pumped(pump, client.local_status())["node"] == "alpha"
