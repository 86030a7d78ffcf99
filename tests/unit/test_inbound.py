"""Received datagrams are decoded once per distinct byte string, with the same verdicts."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from twisted.internet.task import Clock

from hbtwist.core import inbound
from hbtwist.core.inbound import Header, RecentDatagrams, Rejection
from hbtwist.core.node import NodeCore
from hbtwist.core.stamp import Identity, Stamper
from hbtwist.core.timing import Timing
from hbtwist.wire import AuthKey, AuthMethod, Keyring, Message, encode_datagram
from tests.simnet import SimOutput

KEYRING = Keyring(1, {1: AuthKey(1, AuthMethod.SHA1, b"secret")})
FORGER = Keyring(1, {1: AuthKey(1, AuthMethod.SHA1, b"guess")})
TIMING = Timing(keepalive_ms=100, deadtime_ms=500, warntime_ms=300, initdead_ms=1000)


def status(seq: int, keyring: Keyring = KEYRING) -> bytes:
    """A status datagram of node2 with sequence number `seq`."""
    message = Message.of(
        ("t", "status"),
        ("st", "active"),
        ("src", "node2"),
        ("seq", f"{seq:x}"),
        ("hg", "5"),
        ("ts", "1"),
    )
    return encode_datagram(message, keyring)


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every datagram the inbound module decodes, in order."""
    seen: list[bytes] = []
    real = inbound.decode_datagram

    def counting(data: bytes, keyring: Keyring) -> Message:
        seen.append(data)
        return real(data, keyring)

    monkeypatch.setattr(inbound, "decode_datagram", counting)
    return seen


def test_copy_is_decoded_once(decodes: list[bytes]) -> None:
    """A byte-identical copy gets the first arrival's verdict without being decoded again."""
    recent = RecentDatagrams(KEYRING)
    first, second = recent.inspect(status(1)), recent.inspect(status(1))
    assert isinstance(first, Header)
    assert second is first
    assert (first.kind, first.name, first.seq, first.generation) == ("status", "node2", 1, 5)
    assert decodes == [status(1)]


@pytest.mark.parametrize(
    "datagram",
    [status(1), status(2, FORGER), b"###\n9:garbage,%%%\n", b"\x00"],
    ids=["authentic", "forged", "malformed", "not a message"],
)
def test_remembered_verdict_is_the_decoded_one(datagram: bytes) -> None:
    """Authentic, forged and malformed datagrams get the verdict `inspect` gives, every time."""
    recent = RecentDatagrams(KEYRING)
    expected = inbound.inspect(datagram, KEYRING)
    assert [recent.inspect(datagram) for _ in range(3)] == [expected] * 3


def test_forged_copy_is_rejected_again() -> None:
    """A forged datagram stays rejected for bad authentication on each arrival."""
    recent = RecentDatagrams(KEYRING)
    verdicts = [recent.inspect(status(3, FORGER)) for _ in range(2)]
    assert all(isinstance(verdict, Rejection) and verdict.reason == "bad_auth" for verdict in verdicts)


def test_memory_is_bounded(decodes: list[bytes]) -> None:
    """Only the newest `size` distinct datagrams are remembered: the oldest is decoded again."""
    recent = RecentDatagrams(KEYRING, size=2)
    for seq in (1, 2, 3, 1):
        recent.inspect(status(seq))
    assert decodes == [status(1), status(2), status(3), status(1)]


def make_core(clock: Clock, sent: Callable[[Message], None]) -> NodeCore:
    """node1 of a two-node cluster (node1, node2) on links eth0 and eth1."""
    stamper = Stamper(
        Identity("node1", b"node1".ljust(16, b"\0"), 7),
        KEYRING,
        ttl=3,
        inner_auth=True,
        wallclock=clock.seconds,
        loadavg=lambda: "0.00 0.00 0.00 1/100 1",
    )
    return NodeCore(
        stamper=stamper,
        nodes=["node1", "node2"],
        links=["eth0", "eth1"],
        timing=TIMING,
        clock=clock,
        output=SimOutput(sent),
    )


def test_own_echo_needs_no_decoding(decodes: list[bytes]) -> None:
    """A datagram the node sent itself, echoed back by a broadcast medium, is taken without
    decoding and marks the node's own link up."""
    clock = Clock()
    outgoing: list[Message] = []
    core = make_core(clock, outgoing.append)
    core.start()
    message = outgoing[-1]
    datagram = encode_datagram(message, KEYRING)
    core.sent(datagram)
    core.datagram_received(datagram, "eth1")
    own = core.membership.peers["node1"]
    assert decodes == []
    assert own.links["eth1"].heard == 1
    assert core.stats.dropped.malformed == core.stats.dropped.bad_auth == 0
    core.stop()
