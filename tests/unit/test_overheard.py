"""Acknowledgements for other nodes are authenticated and dropped without being decoded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from twisted.internet.task import Clock

from hbtwist.core import inbound
from hbtwist.core.inbound import OVERHEARD, Header, RecentDatagrams, Rejection
from hbtwist.wire import Message, encode_datagram, encode_frame
from hbtwist.wire.datagram import authentic_netstring
from tests.unit.test_inbound import FORGER, KEYRING, make_core
from tests.wirecases import VECTOR_RING

VECTORS = Path(__file__).parent.parent / "fixtures" / "heartbeat-3.0.6"
NODES = ("hb1", "hb2")


def ack(dest: str, keyring=KEYRING, src: str = "node2") -> bytes:
    """An acknowledgement from `src` for `dest`, laid out as hbtwist and Heartbeat send it."""
    message = Message.of(
        ("t", "NS_ackmsg"), ("dest", dest), ("ackseq", "a"), ("src", src), ("hg", "5"), ("ts", "1")
    )
    return encode_datagram(message, keyring)


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every datagram the inbound module decodes, in order."""
    seen: list[bytes] = []
    real = inbound.decode_datagram

    def counting(data: bytes, keyring) -> Message:
        seen.append(data)
        return real(data, keyring)

    monkeypatch.setattr(inbound, "decode_datagram", counting)
    return seen


def _captured_acks() -> list[bytes]:
    with open(VECTORS / "NS_ackmsg.jsonl") as lines:
        return [bytes.fromhex(json.loads(line)["hex"]) for line in lines]


def test_an_ack_for_another_node_is_overheard_undecoded(decodes: list[bytes]) -> None:
    """An authentic ack for node3, arriving at node1, is OVERHEARD and never decoded."""
    recent = RecentDatagrams(KEYRING, local="node1")
    assert recent.inspect(ack("node3")) is OVERHEARD
    assert decodes == []


@pytest.mark.parametrize("dest", ["node1", "NODE1"])
def test_an_ack_for_this_node_is_decoded(dest: str, decodes: list[bytes]) -> None:
    """An ack naming this node (in any letter case) is decoded and read as usual."""
    verdict = RecentDatagrams(KEYRING, local="node1").inspect(ack(dest))
    assert isinstance(verdict, Header) and verdict.kind == "NS_ackmsg"
    assert len(decodes) == 1


def test_a_forged_ack_for_another_node_is_still_rejected() -> None:
    """A forged ack for another node is not overheard: it is decoded and rejected as forged."""
    verdict = RecentDatagrams(KEYRING, local="node1").inspect(ack("node3", FORGER))
    assert isinstance(verdict, Rejection) and verdict.reason == "bad_auth"


def test_without_a_local_name_every_ack_is_decoded(decodes: list[bytes]) -> None:
    """A RecentDatagrams that does not know its node decodes every ack."""
    assert isinstance(RecentDatagrams(KEYRING).inspect(ack("node3")), Header)
    assert len(decodes) == 1


def test_acks_of_a_real_heartbeat_are_overheard_by_others_only() -> None:
    """Each of Heartbeat 3.0.6's captured acks is read by the node it names and overheard by
    the other."""
    captured = _captured_acks()
    for datagram in captured:
        verdicts = {node: RecentDatagrams(VECTOR_RING, local=node).inspect(datagram) for node in NODES}
        read = [node for node, verdict in verdicts.items() if isinstance(verdict, Header)]
        assert len(read) == 1 and read[0] == verdicts[read[0]].message.text("dest")
        assert sum(verdict is OVERHEARD for verdict in verdicts.values()) == 1
    assert {d.split(b"dest=")[1][:3] for d in captured} == {b"hb1", b"hb2"}


@pytest.mark.parametrize(
    ("datagram", "authentic"),
    [
        (ack("node3"), True),
        (ack("node3", FORGER), False),
        (ack("node3")[:-3] + b"00,", False),
        (ack("node3")[:-20], False),
        (ack("node3").replace(b"%%%\n", b"%%%%"), False),
        (encode_frame(Message.of(("t", "NS_ackmsg"), ("dest", "node3")), KEYRING), False),
        (b"###\n%%%\n", False),
        (b"", False),
    ],
    ids=["authentic", "forged", "bad token", "truncated", "no end", "classic", "empty", "nothing"],
)
def test_authentic_netstring_checks_only_the_trailer(datagram: bytes, authentic: bool) -> None:
    """The trailer check without decoding accepts exactly the authentic netstring datagrams."""
    assert authentic_netstring(datagram, KEYRING) is authentic


def test_the_core_counts_an_overheard_ack_as_received_and_does_nothing_else() -> None:
    """node1's core counts an ack for node3 as received; no acknowledgement is taken from it."""
    clock = Clock()
    core = make_core(clock, lambda message: None)
    core.start()
    before = core.stats.received
    core.datagram_received(ack("node3"), "eth0", ("192.0.2.12", 694))
    assert core.stats.received == before + 1
    assert core.delivery.streams["node2"].ackseq == 0
    core.stop()
