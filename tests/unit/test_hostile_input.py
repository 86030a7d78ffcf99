"""Correctly signed hostile datagrams fed to a real node through its medium seam.

Whatever members and strangers send, no exception may escape the receive path, nothing may be
logged as an unhandled error, the node must keep heartbeating, the core's per-sender structures
must stay within their caps, and names that are not members must change nothing. Properties
that fail today are strict xfails naming the defect: they turn into failures once it is fixed.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, example, given, settings

from hbtwist.config import ClusterConfig
from tests.hostile import (
    KEEPALIVE,
    KEYRING,
    LOCAL,
    Hostile,
    NodeHarness,
    caps,
    crafted,
    hostile_batches,
    load_cluster,
    membership,
    probe,
    write_cluster,
)

PROPERTY = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> ClusterConfig:
    """The three-node cluster of tests/hostile.py, as node alpha."""
    return load_cluster(write_cluster(tmp_path_factory.mktemp("hostile") / "ha.d"))


@pytest.fixture
def harness(config: ClusterConfig) -> Iterator[NodeHarness]:
    """A started node under attack."""
    with NodeHarness(config) as node:
        yield node


def status(seq: int, src: str = "bravo", uuid: bytes | None = None, compressed: bool = False) -> Hostile:
    """An honest-looking status of a member."""
    pairs = (("st", "active"), ("dt", "3e8"), ("protocol", "1"))
    return crafted(KEYRING, "status", *pairs, src=src, seq=seq, uuid=uuid, compressed=compressed)


def gaps_of_250() -> list[Hostile]:
    """Statuses 250 numbers apart: each gap is just small enough to be repaired."""
    return [status(1 + 250 * step) for step in range(40)]


def flood_of_starting() -> list[Hostile]:
    """A live member that never acknowledges, asking again and again what this node holds."""
    batch = []
    for seq in range(1, 1501):
        batch.append(status(seq) if seq % 20 == 1 else crafted(KEYRING, "starting", seq=seq))
    return batch


def held_behind_one_gap() -> list[Hostile]:
    """A live member whose number 2 never comes, followed by 2,000 more in order."""
    batch = [status(1)]
    for seq in range(3, 2003):
        batch.append(status(seq) if seq % 20 == 0 else crafted(KEYRING, "app", ("n", str(seq)), seq=seq))
    return batch


def feed(harness: NodeHarness, batch: list[Hostile]) -> dict[str, int]:
    """Feed a batch, moving the clock on one keepalive every twenty datagrams; the peak size
    each probe reached."""
    peaks = probe(harness.node)
    for number, hostile in enumerate(batch, 1):
        harness.feed(hostile.datagram)
        if number % 20 == 0:
            harness.run(KEEPALIVE)
        peaks = {name: max(size, peaks[name]) for name, size in probe(harness.node).items()}
    return peaks


@PROPERTY
@given(batch=hostile_batches(KEYRING))
def test_no_exception_escapes_the_receive_path(config: ClusterConfig, batch: list[Hostile]) -> None:
    """No hostile datagram from anyone makes the node raise out of the medium's deliver call."""
    with NodeHarness(config) as harness:
        feed(harness, batch)


@PROPERTY
@given(batch=hostile_batches(KEYRING))
def test_nothing_logged_as_unhandled_error(config: ClusterConfig, batch: list[Hostile]) -> None:
    """After hostile input, two seconds of timers log no failure and no critical line of their own."""
    with NodeHarness(config) as harness:
        feed(harness, batch)
        harness.run(2.0)
        assert harness.log.errors == []


@PROPERTY
@given(batch=hostile_batches(KEYRING))
def test_node_keeps_heartbeating(config: ClusterConfig, batch: list[Hostile]) -> None:
    """After hostile input the node still sends a status every keepalive."""
    with NodeHarness(config) as harness:
        feed(harness, batch)
        assert harness.heartbeats_during(1.0) >= 9


@PROPERTY
@given(batch=hostile_batches(KEYRING, max_size=60))
@example(batch=gaps_of_250())
@example(batch=flood_of_starting())
@example(batch=held_behind_one_gap())
def test_structures_stay_within_their_caps(config: ClusterConfig, batch: list[Hostile]) -> None:
    """Peers, missing and requested numbers, held and queued messages never exceed their caps."""
    with NodeHarness(config) as harness:
        limits = caps(harness.node)
        peaks = feed(harness, batch)
        assert {name: size for name, size in peaks.items() if size > limits[name]} == {}


@PROPERTY
@given(batch=hostile_batches(KEYRING, roles=("stranger",)))
@example(batch=[status(1, src="\u212aILO", uuid=b"mallory-uuid-001")])
def test_strangers_change_nothing(config: ClusterConfig, batch: list[Hostile]) -> None:
    """Messages from names that are not members leave membership, timers and output unchanged
    (the clock stands still, so anything that moved was moved by a message)."""
    with NodeHarness(config) as harness:
        before = membership(harness)
        for hostile in batch:
            harness.feed(hostile.datagram)
        assert membership(harness) == before


def test_malformed_rexmit_numbers_are_dropped(harness: NodeHarness) -> None:
    """An NS_rexmit whose firstseq is `²` is counted malformed instead of raising ValueError."""
    before = harness.node.core.stats.dropped.malformed
    harness.feed(
        crafted(KEYRING, "NS_rexmit", ("dest", LOCAL), ("firstseq", "²"), ("lastseq", "²")).datagram
    )
    assert harness.node.core.stats.dropped.malformed == before + 1


def test_requested_numbers_stay_within_the_missing_cap(harness: NodeHarness) -> None:
    """Forty gaps of 249 from one member leave at most 499 numbers asked for."""
    assert feed(harness, gaps_of_250())["rexmit_pending"] <= 499


def test_held_messages_are_capped(harness: NodeHarness) -> None:
    """Two thousand messages behind one unrepaired gap are not all kept in memory."""
    assert feed(harness, held_behind_one_gap())["inbox_held"] <= 500


def test_starting_flood_queues_a_bounded_backlog(harness: NodeHarness) -> None:
    """A live member that never acknowledges and keeps sending `starting` queues at most 500."""
    assert feed(harness, flood_of_starting())["outbox_queued"] <= 500


def test_oversized_uuid_does_not_break_replies(harness: NodeHarness) -> None:
    """A member whose compressed status carries a 1 MB srcuuid cannot make replies to it raise."""
    uuid = b"u" * 1_000_000
    harness.feed(status(1, uuid=uuid, compressed=True).datagram)
    harness.feed(
        crafted(KEYRING, "reqnodes", ("dest", LOCAL), seq=2, uuid=uuid, compressed=True).datagram
    )


def test_kelvin_sign_name_is_a_stranger(harness: NodeHarness) -> None:
    """'KILO' spelt with U+212A KELVIN SIGN is not member kilo: its status changes nothing."""
    before = membership(harness)
    harness.feed(status(1, src="\u212aILO", uuid=b"mallory-uuid-001").datagram)
    assert membership(harness) == before
