"""Deterministic fuzzing of the datagram decoder with random and mutated packets (spec 11.2)."""

from __future__ import annotations

import random
import time
from collections import Counter

from hbtwist.wire import (
    Keyring,
    Message,
    decode_datagram,
    decode_message,
    decode_netstring,
    encode_datagram,
    encode_frame,
    encode_netstring,
    sign_inner,
)
from hbtwist.wire.compress import wrap
from hbtwist.wire.datagram import trailer
from tests.wirecases import (
    ACCEPTED,
    CRC_RING,
    HELLO_MD5,
    HELLO_SHA1,
    SERIAL_FRAMES,
    SPEC_DATAGRAMS,
    VECTOR_RING,
    VECTORS,
    mutate,
    outcome,
    payload_end,
    spec_demo_message,
    spec_status_message,
)

SEED = 306
ROUNDS = 100_000


def sources() -> list[tuple[bytes, Keyring]]:
    """Authentic packets to mutate: captured vectors, serial frames, spec examples, compressed ones."""
    status, demo = spec_status_message(), spec_demo_message()
    packets = [(v.data, VECTOR_RING) for v in VECTORS]
    packets += [(f.data, VECTOR_RING) for f in SERIAL_FRAMES]
    packets += [(data, ring) for _, data, ring in SPEC_DATAGRAMS]
    for ring in (HELLO_MD5, CRC_RING):
        packets.append((encode_datagram(sign_inner(status, ring), ring), ring))
    packets.append((encode_datagram(sign_inner(demo, HELLO_SHA1), HELLO_SHA1), HELLO_SHA1))
    packets.append((encode_frame(demo, HELLO_SHA1), HELLO_SHA1))
    for algorithm in ("zlib", "bz2"):
        wrapped = wrap(encode_netstring(sign_inner(status, HELLO_SHA1)), algorithm)
        packets.append((encode_datagram(wrapped, HELLO_SHA1), HELLO_SHA1))
    return packets


def random_bytes(rng: random.Random) -> bytes:
    """Random bytes, half of them behind a valid start marker."""
    data = rng.randbytes(rng.randrange(300))
    return rng.choice([b"", b"###\n", b">>>\n"]) + data


def fuzz(rounds: int, seed: int) -> tuple[Counter[tuple[str, str]], float]:
    """Run the fuzzer; return outcome counts per (kind, result) and the elapsed seconds."""
    rng = random.Random(seed)
    packets = sources()
    originals = {decode_datagram(data, ring).without("auth") for data, ring in packets}
    authentic = {decode_datagram(data, ring) for data, ring in packets if data.startswith(b"###\n")}
    counts: Counter[tuple[str, str]] = Counter()
    started = time.perf_counter()
    for _ in range(rounds):
        data, ring = rng.choice(packets)
        other, _ = rng.choice(packets)
        roll = rng.random()
        if roll < 0.1:
            kind, candidate = "random", random_bytes(rng)
        elif roll < 0.55:
            kind, candidate = "mutated", data
            for _ in range(rng.choice([1, 1, 1, 2, 3])):
                candidate = mutate(rng, candidate, other)
        else:
            # Re-signed: mutate the payload, then append a valid trailer, so that the parser
            # (not only the authentication check) decides.
            kind = "resigned"
            if not data.startswith(b"###\n"):
                data = encode_datagram(decode_datagram(data, ring), ring)
            payload = data[: payload_end(data)]
            for _ in range(rng.choice([1, 1, 2])):
                payload = mutate(rng, payload, other, rng.choice(RESIGN_MUTATIONS))
            candidate = payload + trailer(ring.sign(payload))
        result, message = outcome(lambda d, ring=ring: decode_datagram(d, ring), candidate)
        counts[kind, result] += 1
        if result == ACCEPTED:
            assert message is not None
            if kind == "resigned":
                check_reencodes(message, candidate)
            elif candidate.startswith(b"###\n"):
                assert message in authentic, f"forged netstring datagram accepted: {candidate!r}"
            else:
                assert message.without("auth") in originals, f"forged frame accepted: {candidate!r}"
        # The unauthenticated decoder (FIFO, API socket) must be just as total.
        result, message = outcome(decode_message, candidate)
        counts["unauthenticated", result] += 1
        if result == ACCEPTED and candidate.startswith(b"###\n"):
            assert message is not None
            check_reencodes(message, candidate)
    return counts, time.perf_counter() - started


RESIGN_MUTATIONS = ("flip", "replace", "insert", "delete", "duplicate", "truncate", "splice", "digits")


def check_reencodes(message: Message, candidate: bytes) -> None:
    """Whatever the decoder accepts can be re-encoded, and that encoding decodes to it again."""
    data = encode_netstring(message)
    assert decode_netstring(data) == (message, len(data)), candidate
    assert decode_message(data) == message or b"_compressed_payload" in data, candidate


def test_fuzz_datagrams():
    """100,000 random, mutated and re-signed datagrams: a Message or a WireError each, no forgery."""
    counts, elapsed = fuzz(ROUNDS, SEED)
    datagrams = {key: n for key, n in counts.items() if key[0] != "unauthenticated"}
    total = sum(datagrams.values())
    accepted = sum(n for (_, result), n in datagrams.items() if result == ACCEPTED)
    print(f"\nfuzz: {total} datagrams in {elapsed:.1f} s: {dict(sorted(counts.items()))}")
    assert total >= 100_000
    assert 0 < accepted < total
    assert counts["resigned", ACCEPTED] > 1000
    assert counts["resigned", "MalformedPacket"] > 1000
    assert counts["mutated", ACCEPTED] > 0
    assert counts["mutated", "AuthenticationFailed"] > 1000
    assert counts["random", "MalformedPacket"] > 1000
    assert sum(n for (decoder, _), n in counts.items() if decoder == "unauthenticated") == total
    assert counts["unauthenticated", ACCEPTED] > counts["resigned", ACCEPTED]


def test_fuzz_is_deterministic():
    """The same seed gives the same outcome counts (so a failure can be replayed)."""
    assert fuzz(2000, SEED)[0] == fuzz(2000, SEED)[0]
