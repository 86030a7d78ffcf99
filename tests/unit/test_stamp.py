"""Stamping outgoing messages reproduces what Heartbeat 3.0.6 puts on the wire."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from hbtwist.core.stamp import Identity, Stamper
from hbtwist.wire import AuthKey, AuthMethod, Keyring, Message, decode_datagram, encode_datagram
from hbtwist.wire.datagram import EncodedMessage

VECTORS = Path(__file__).parent.parent / "fixtures" / "heartbeat-3.0.6"
RING = Keyring(1, {1: AuthKey(1, AuthMethod.SHA1, b"anchor-sha1-key-2024")})


def _first_vector(kind: str) -> bytes:
    with open(VECTORS / f"{kind}.jsonl") as lines:
        return bytes.fromhex(json.loads(next(lines))["hex"])


def _stamper_like(message: Message, wallclock: Callable[[], float] | None = None) -> Stamper:
    """A stamper with the identity, clock (unless `wallclock` is given) and load average
    recorded in `message`."""
    return Stamper(
        Identity(
            message.text("src") or "",
            message.binary("srcuuid") or b"",
            int(message.text("hg") or "0", 16),
        ),
        RING,
        ttl=int(message.text("ttl") or "0"),
        inner_auth=True,
        wallclock=wallclock or (lambda: int(message.text("ts") or "0", 16)),
        loadavg=lambda: message.text("ld") or "",
    )


def test_status_from_a_real_daemon_is_rebuilt_byte_for_byte() -> None:
    """Stamping the type fields of a captured status yields the captured datagram exactly."""
    captured = _first_vector("status")
    original = decode_datagram(captured, RING)
    stamper = _stamper_like(original)
    stamper.last_seq = int(original.text("seq") or "0", 16) - 1
    bare = Message(f for f in original if f.name in (b"t", b"st", b"dt", b"protocol"))
    assert encode_datagram(stamper.stamp(bare), RING) == captured


def test_addressed_message_gets_destuuid_before_control_fields() -> None:
    """A captured `reqnodes` (with `dest`) is rebuilt exactly, `destuuid` included."""
    captured = _first_vector("reqnodes")
    original = decode_datagram(captured, RING)
    stamper = _stamper_like(original)
    stamper.last_seq = int(original.text("seq") or "0", 16) - 1
    bare = Message(f for f in original if f.name in (b"t", b"dest"))
    assert encode_datagram(stamper.stamp(bare, original.binary("destuuid")), RING) == captured


def test_unsequenced_messages_carry_no_seq_or_ld() -> None:
    """An `NS_` message is stamped without `seq` and `ld` and does not consume a number."""
    stamper = _stamper_like(Message.of(("src", "n1"), ("hg", "5"), ("ts", "10"), ("ttl", "3")))
    stamped = stamper.stamp(Message.of(("t", "NS_ackmsg"), ("dest", "n2"), ("ackseq", "a")))
    assert "seq" not in stamped and "ld" not in stamped
    assert stamper.last_seq == 0
    assert [f.name for f in stamped][-1] == b"auth"


def test_sequence_numbers_are_lower_case_hex_from_one() -> None:
    """Sequenced messages get `seq` 1, 2, ... in lower-case hex."""
    stamper = _stamper_like(Message.of(("src", "n1"), ("hg", "5"), ("ts", "10"), ("ttl", "3")))
    seqs = [stamper.stamp(Message.of(("t", "status"))).text("seq") for _ in range(11)]
    assert seqs[0] == "1" and seqs[10] == "b"


def test_stamp_numbered_gives_the_sequence_number_taken() -> None:
    """`stamp_numbered` returns the number written into `seq`, and 0 for an `NS_` message."""
    stamper = _stamper_like(Message.of(("src", "n1"), ("hg", "5"), ("ts", "10"), ("ttl", "3")))
    stamper.stamp(Message.of(("t", "status")))
    stamped, seq = stamper.stamp_numbered(Message.of(("t", "status")))
    assert (seq, stamped.text("seq")) == (2, "2")
    assert stamper.stamp_numbered(Message.of(("t", "NS_ackmsg"), ("dest", "n2")))[1] == 0


def test_changed_clock_load_generation_and_ttl_show_in_the_next_stamp() -> None:
    """Kept control fields follow the wall clock, the load average, the generation and `ttl`."""
    now, load = [16.0], ["0.10 0.05 0.01 1/99 7"]
    identity = Identity("n1", b"u" * 16, 5)
    stamper = Stamper(
        identity, RING, ttl=3, inner_auth=True, wallclock=lambda: now[0], loadavg=lambda: load[0]
    )
    first = stamper.stamp(Message.of(("t", "status")))
    now[0], load[0] = 31.9, "2.00 1.00 0.50 3/120 9"
    identity.generation, stamper.ttl = 6, 4
    second = stamper.stamp(Message.of(("t", "status")))
    fields = ("ts", "ld", "hg", "ttl")
    assert [first.text(name) for name in fields] == ["10", "0.10 0.05 0.01 1/99 7", "5", "3"]
    assert [second.text(name) for name in fields] == ["1f", "2.00 1.00 0.50 3/120 9", "6", "4"]


def test_a_status_stamped_again_and_again_is_what_stamping_it_afresh_gives() -> None:
    """The same status stamped repeatedly (through its template) gives, byte for byte, what a
    fresh stamp of an equal message gives, while the clock, load, generation, ttl, inner signing
    and keyring change between stamps."""
    now, load = [16.0], ["0.10 0.05 0.01 1/99 7"]
    other_ring = Keyring(2, {2: AuthKey(2, AuthMethod.MD5, b"other-key")})

    def stamper() -> Stamper:
        identity = Identity("n1", b"u" * 16, 5)
        return Stamper(
            identity, RING, ttl=3, inner_auth=True, wallclock=lambda: now[0], loadavg=lambda: load[0]
        )

    repeating, fresh = stamper(), stamper()
    status = Message.of(("t", "status"), ("st", "active"), ("dt", "1388"), ("protocol", "1"))
    changes = [
        lambda s: None,
        lambda s: None,
        lambda s: now.__setitem__(0, 31.9),
        lambda s: load.__setitem__(0, "2.00 1.00\n0.50 3/120 9"),
        lambda s: setattr(s.identity, "generation", 6),
        lambda s: setattr(s, "ttl", 4),
        lambda s: setattr(s, "inner_auth", False),
        lambda s: setattr(s, "keyring", other_ring),
        lambda s: None,
    ]
    templated = 0
    for change in changes:
        change(repeating)
        change(fresh)
        got = repeating.stamp(status)
        expected = fresh.stamp(Message(status.fields))
        assert got == expected
        plain = Message(expected.fields)
        assert encode_datagram(got, repeating.keyring) == encode_datagram(plain, fresh.keyring)
        templated += isinstance(got, EncodedMessage)
    assert templated == len(changes) - 1  # all but the first


def test_a_repeated_status_from_a_real_daemon_is_rebuilt_byte_for_byte() -> None:
    """Stamping the type fields of a captured status a second time in a row (the repeated path)
    still yields the captured datagram exactly."""
    captured = _first_vector("status")
    original = decode_datagram(captured, RING)
    stamper = _stamper_like(original)
    stamper.last_seq = int(original.text("seq") or "0", 16) - 2
    bare = Message(f for f in original if f.name in (b"t", b"st", b"dt", b"protocol"))
    stamper.stamp(bare)
    again = stamper.stamp(bare)
    assert isinstance(again, EncodedMessage)
    assert encode_datagram(again, RING) == captured


def test_acknowledgements_from_a_real_daemon_are_rebuilt_byte_for_byte() -> None:
    """Every captured `NS_ackmsg`, made by `acknowledgement` from its addressee, number and
    UUID, is the captured datagram exactly (one stamper per sender, so templates are reused)."""
    with open(VECTORS / "NS_ackmsg.jsonl") as lines:
        captured = [bytes.fromhex(json.loads(line)["hex"]) for line in lines]
    now = [0]
    stampers: dict[str, Stamper] = {}
    for datagram in captured:
        original = decode_datagram(datagram, RING)
        now[0] = int(original.text("ts") or "0", 16)
        stamper = stampers.setdefault(
            original.text("src") or "", _stamper_like(original, lambda: now[0])
        )
        dest, destuuid = original.text("dest") or "", original.binary("destuuid")
        ack = stamper.acknowledgement(dest, int(original.text("ackseq") or "0", 16), destuuid)
        assert encode_datagram(ack, RING) == datagram
    assert len(captured) > len(stampers)


def test_an_acknowledgement_is_what_stamping_its_fields_gives() -> None:
    """For each addressee, number, UUID (or none) and inner signature setting, and after the
    node's generation and keyring change, `acknowledgement` equals stamping `t dest ackseq`."""
    other_ring = Keyring(2, {2: AuthKey(2, AuthMethod.MD5, b"another-key")})
    for inner_auth in (True, False):
        stamper = _stamper_like(Message.of(("src", "n1"), ("hg", "5"), ("ts", "10"), ("ttl", "3")))
        stamper.inner_auth = inner_auth
        for step, (dest, destuuid) in enumerate(
            [("n2", b"\x02" * 16), ("n3", None), ("n2", b"\x02" * 16)] * 2
        ):
            if step == 3:
                stamper.identity.generation += 1
                stamper.keyring = other_ring
            for ackseq in (10, 20, 0x1F4):
                bare = Message.of(("t", "NS_ackmsg"), ("dest", dest), ("ackseq", f"{ackseq:x}"))
                expected = stamper.stamp(bare, destuuid)
                made = stamper.acknowledgement(dest, ackseq, destuuid)
                assert made == expected
                assert encode_datagram(made, stamper.keyring) == encode_datagram(
                    expected, stamper.keyring
                )
