"""The netstring decoder's leading runs give the fields a fresh parse gives, and stay bounded."""

from __future__ import annotations

import pytest

from hbtwist.wire import Message, netstring
from hbtwist.wire.memo import MEMO_LIMIT
from hbtwist.wire.runs import LENGTHS_LIMIT

RUNS = netstring._RUNS


@pytest.fixture(autouse=True)
def empty_memos() -> None:
    """Each test starts with no element or run remembered."""
    netstring._PARSED.clear()
    RUNS.clear()


def status_message(seq: int, source: str = "n1") -> Message:
    """A status-like message: constant leading fields, the source, then a sequence number."""
    head = (("t", "status"), ("st", "active"), ("dt", "3e8"))
    return Message.of(*head, ("src", source), ("seq", f"{seq:x}"), ("ttl", "3"))


def status(seq: int, source: str = "n1") -> bytes:
    """The payload of `status_message(seq, source)`."""
    return netstring.encode_netstring(status_message(seq, source))


def run_of(data: bytes, element: bytes) -> bytes:
    """The bytes of `data` before the element that starts with `element`."""
    return data[: data.index(element)]


def fresh(data: bytes) -> tuple[Message, int]:
    """`data` decoded with nothing remembered, the memos left as they were."""
    parsed, runs = dict(netstring._PARSED), (dict(RUNS.runs), dict(RUNS.candidates), dict(RUNS.lengths))
    netstring._PARSED.clear()
    RUNS.clear()
    try:
        return netstring.decode_netstring(data)
    finally:
        netstring._PARSED.update(parsed)
        RUNS.runs.update(runs[0])
        RUNS.candidates.update(runs[1])
        RUNS.lengths.update(runs[2])
        RUNS.probes = sorted(RUNS.lengths, reverse=True)


def test_a_run_met_twice_is_learned_and_taken_whole() -> None:
    """The elements before the sequence number are a candidate at the second status, a run at
    the third, and give the fourth its leading fields, which equal a fresh parse."""
    for seq in (1, 2):
        netstring.decode_netstring(status(seq))
    run = run_of(status(1), b"8:(0)seq")
    assert RUNS.runs == {} and run in RUNS.candidates
    netstring.decode_netstring(status(3))
    assert RUNS.runs == {run: fresh(status(1))[0].fields[:4]}
    assert RUNS.probes == [len(run)]
    expected = (status_message(4), len(status(4)))
    assert netstring.decode_netstring(status(4)) == fresh(status(4)) == expected


def test_a_run_reaching_past_a_shared_number_is_not_learned() -> None:
    """A status whose sequence number another source sent too makes no run holding that number;
    the source's own run is learned from the statuses whose numbers are new."""
    for seq in range(1, 5):
        netstring.decode_netstring(status(seq, "n1"))
    for seq in range(1, 8):
        netstring.decode_netstring(status(seq, "n2"))
    assert all(b"seq=" not in run for run in RUNS.runs)
    assert run_of(status(1, "n2"), b"8:(0)seq") in RUNS.runs


def test_a_longer_run_is_learned_after_a_shared_one_and_tried_first() -> None:
    """A second source's statuses first share the run of the fields before the source, then
    learn their own longer run, which is tried first from then on."""
    for seq in (1, 2, 3):
        netstring.decode_netstring(status(seq, "n1"))
    for seq in (11, 12, 13, 14):
        netstring.decode_netstring(status(seq, "n2"))
    own = run_of(status(1, "n2"), b"8:(0)seq")
    assert own in RUNS.runs and RUNS.probes[0] == len(own)
    learned = dict(RUNS.runs)
    assert netstring.decode_netstring(status(15, "n2")) == fresh(status(15, "n2"))
    assert RUNS.runs == learned


def test_a_message_beginning_with_a_run_is_still_checked_after_it() -> None:
    """A message that begins with a remembered run but is malformed after it is refused."""
    for seq in (1, 2, 3):
        netstring.decode_netstring(status(seq))
    truncated = run_of(status(4), b"8:(0)seq") + b"8:(0)seq"
    with pytest.raises(netstring.MalformedPacket):
        netstring.decode_netstring(truncated + b"%%%\n")


def test_short_runs_are_not_remembered() -> None:
    """A run of fewer than MIN_RUN elements (an acknowledgement's type and addressee) is not
    worth a lookup and is not remembered."""
    for ackseq in range(4):
        ack = Message.of(("t", "NS_ackmsg"), ("dest", "n2"), ("ackseq", str(ackseq)))
        netstring.decode_netstring(netstring.encode_netstring(ack))
    assert RUNS.runs == {} and RUNS.candidates == {} and RUNS.probes == []


def test_runs_are_bounded() -> None:
    """Sources of many name lengths keep at most LENGTHS_LIMIT run lengths, tried longest
    first; runs and candidates stay within MEMO_LIMIT; every status still decodes as fresh."""
    sources = ["n" * width for width in range(1, LENGTHS_LIMIT + 4)]
    for number, source in enumerate(sources):
        for seq in range(3):
            netstring.decode_netstring(status(100 * number + seq, source))
    assert len(RUNS.lengths) == len(RUNS.probes) == LENGTHS_LIMIT
    assert RUNS.probes == sorted(RUNS.probes, reverse=True)
    for number in range(MEMO_LIMIT + 10):
        netstring.decode_netstring(status(number, "busy"))
    assert len(RUNS.runs) <= MEMO_LIMIT and len(RUNS.candidates) <= MEMO_LIMIT
    for number, source in enumerate(sources):
        data = status(100 * number + 5, source)
        assert netstring.decode_netstring(data) == fresh(data)
