"""The node service on a task.Clock with fake media: start, send isolation, receive, fan-out, stop."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from twisted.internet.task import Clock
from twisted.logger import LogLevel, globalLogPublisher
from twisted.python import usage
from zope.interface import implementer

from hbtwist.config import ClusterConfig, load_config
from hbtwist.core import events
from hbtwist.core.stamp import Identity
from hbtwist.daemon import tap
from hbtwist.daemon.node import NodeService
from hbtwist.media.interface import (
    IMediumLink,
    IMediumType,
    MediumContext,
    MediumUnavailable,
    Outgoing,
)
from hbtwist.wire import Message, decode_datagram, encode_datagram
from tests.conftest import write_config

HA_CF = """\
keepalive 100ms
deadtime 500ms
warntime 250ms
initdead 1000ms
udpport 17694
log_badpack true
ucast lo 127.0.0.1
ucast lo 127.0.0.2
node alpha beta
"""


@implementer(IMediumLink)
class FakeLink:
    """A link that records what it sends; it can be told to fail on start or on every send."""

    def __init__(self, name: str, context: MediumContext, medium: Any) -> None:
        self.name = name
        self.medium = medium
        self.context = context
        self.send_failures = 0
        self.sent: list[Outgoing] = []
        self.started = False
        self.stopped = False
        self.fail_start = False
        self.fail_send = False

    def start(self) -> None:
        if self.fail_start:
            raise MediumUnavailable("the device is gone")
        self.started = True

    def stop(self) -> None:
        self.stopped = True

    def send(self, outgoing: Outgoing) -> None:
        if self.fail_send:
            raise OSError("network is down")
        self.sent.append(outgoing)


@implementer(IMediumType)
class FakeMediumType:
    """Opens a FakeLink per configured medium, named eth0, eth1, ..."""

    directive = "ucast"
    parser = None

    def __init__(self) -> None:
        self.links: list[FakeLink] = []

    def check_host(self, medium: Any) -> None:
        """Every host carries a fake medium."""

    def open(self, medium: Any, context: MediumContext) -> FakeLink:
        link = FakeLink(f"eth{len(self.links)}", context, medium)
        self.links.append(link)
        return link


def _config(tmp_path: Path) -> ClusterConfig:
    write_config(tmp_path / "ha.d", ha_cf=HA_CF, haresources="")
    return load_config(tmp_path / "ha.d", local_node="alpha")


def _node(tmp_path: Path) -> tuple[NodeService, FakeMediumType, Clock]:
    clock = Clock()
    clock.advance(1_700_000_000)
    kinds = FakeMediumType()
    identity = Identity("alpha", b"A" * 16, 42)
    node = NodeService(_config(tmp_path), identity, {"ucast": kinds}, clock)
    return node, kinds, clock


def _run(clock: Clock, seconds: float, step: float = 0.01) -> None:
    """Advance the clock in small steps, so that re-armed timers fire as they would."""
    for _ in range(round(seconds / step)):
        clock.advance(step)


def _types(link: FakeLink) -> list[str]:
    return [outgoing.message.text("t") or "" for outgoing in link.sent]


@pytest.fixture
def logged() -> Any:
    """Every log event emitted during the test."""
    seen: list[dict[str, Any]] = []
    globalLogPublisher.addObserver(seen.append)
    yield seen
    globalLogPublisher.removeObserver(seen.append)


def _statuses(link: FakeLink) -> list[Message]:
    return [outgoing.message for outgoing in link.sent if outgoing.message.text("t") == "status"]


def test_start_opens_every_link_and_heartbeats_on_each(tmp_path: Path) -> None:
    """Starting opens both media, and every keepalive a status goes out on each of them: once
    on a clean network; twice half a keepalive apart once loss shows (two media, five
    keepalives per deadtime: two copies)."""
    node, kinds, clock = _node(tmp_path)
    node.startService()
    assert [link.started for link in kinds.links] == [True, True]
    _run(clock, 0.32)
    for link in kinds.links:
        numbers = [message.text("seq") for message in _statuses(link)]
        assert len(numbers) == len(set(numbers)) == 5  # init, up, then one per keepalive
    node.core.membership.copies.loss_seen()
    before = [len(_statuses(link)) for link in kinds.links]
    _run(clock, 0.26)  # the statuses of 0.4 s and 0.5 s, each with its copy
    for link, start in zip(kinds.links, before, strict=True):
        statuses = _statuses(link)[start:]
        assert statuses[0::2] == statuses[1::2] and len(statuses) == 4
    node.stopService()


def test_a_failing_link_stops_neither_the_others_nor_the_heartbeats(tmp_path: Path) -> None:
    """A link whose send raises is counted; the other link and the heartbeat timer go on."""
    node, kinds, clock = _node(tmp_path)
    node.startService()
    kinds.links[0].fail_send = True
    before = len(kinds.links[1].sent)
    _run(clock, 1.0)
    assert _types(kinds.links[1])[before:].count("status") == 10  # one per keepalive
    assert kinds.links[0].send_failures >= 10
    last = kinds.links[1].sent[-1].message
    seq = int(last.text("seq") or "0", 16)
    assert node.core.delivery.history.get(seq) is not None
    node.stopService()


def test_a_medium_that_cannot_open_ends_start_up_with_one_line(
    tmp_path: Path, logged: list[dict[str, Any]]
) -> None:
    """A medium raising MediumUnavailable exits with status 1 after one critical line, and
    the links already opened are closed again."""
    node, kinds, clock = _node(tmp_path)
    kinds.links[1].fail_start = True
    with pytest.raises(SystemExit) as raised:
        node.startService()
    assert raised.value.code == 1
    critical = [event for event in logged if event.get("log_level") is LogLevel.critical]
    assert len(critical) == 1
    assert "the device is gone" in str(critical[0]["error"])
    assert kinds.links[0].stopped
    assert clock.getDelayedCalls() == []


def test_received_datagrams_reach_the_core_and_bad_ones_are_counted(
    tmp_path: Path, logged: list[dict[str, Any]]
) -> None:
    """A signed status from beta makes it known; garbage is counted as malformed and, with
    log_badpack, logged; nothing raises out of the medium's deliver."""
    node, kinds, clock = _node(tmp_path)
    node.startService()
    keyring = node.config.keyring
    status = Message.of(
        ("t", "status"), ("st", "up"), ("dt", "1f4"), ("protocol", "1"), ("src", "beta"),
        ("srcuuid", "B" * 16), ("seq", "1"), ("hg", "7"), ("ts", "6553f100"), ("ttl", "4"),
    )  # fmt: skip
    deliver = kinds.links[0].context.deliver
    deliver(encode_datagram(status, keyring), "eth0", ("127.0.0.2", 694))
    deliver(b"not a heartbeat packet", "eth0", ("127.0.0.9", 694))
    snapshot = node.snapshot()
    beta = snapshot.peer("beta")
    assert beta is not None and beta.status == "up" and beta.generation == 7
    assert snapshot.stats.dropped.malformed == 1
    drops = [e for e in logged if e.get("log_format", "").startswith("Dropped {reason} packet")]
    assert [(e["reason"], e["total"], e["link"]) for e in drops] == [("malformed", 1, "eth0")]
    node.stopService()


def test_subscribers_and_listeners_come_and_go(tmp_path: Path) -> None:
    """Events reach subscribers and submitted messages reach listeners, until they unsubscribe."""
    node, kinds, clock = _node(tmp_path)
    seen: list[events.Event] = []
    heard: list[tuple[str, str]] = []
    stop_events = node.subscribe(seen.append)
    stop_messages = node.listen(lambda sender, message: heard.append((sender, message.text("t") or "")))
    node.startService()
    node.submit([Message.of(("t", "app"), ("n", "1"))])
    assert ("alpha", "app") in heard
    assert any(isinstance(event, events.NodeStatusChanged) for event in seen)
    stop_events()
    stop_messages()
    count = len(seen)
    node.submit([Message.of(("t", "app"), ("n", "2"))])
    _run(clock, 2.0)
    assert len(seen) == count and heard == [("alpha", "app")]
    node.stopService()


def test_stop_says_goodbye_and_closes_every_link(tmp_path: Path) -> None:
    """Stopping sends a last status and `shutdone` on every link, closes them, leaves no timer."""
    node, kinds, clock = _node(tmp_path)
    node.startService()
    _run(clock, 0.5)
    node.stopService()
    for link in kinds.links:
        assert _types(link)[-2:] == ["status", "shutdone"]
        assert link.stopped
        decode_datagram(link.sent[-1].datagram, node.config.keyring)
    assert clock.getDelayedCalls() == []


def test_bind_address_must_be_an_ip_address(config_dir: Path) -> None:
    """`--bind-address` that is not an IP address is a usage error, before anything starts."""
    with pytest.raises(usage.UsageError, match="not an IP address"):
        tap.Options().parseOptions(
            ["--config-dir", str(config_dir), "--node-name", "alpha", "--bind-address", "nohost"]
        )
