"""Throughput of the wire codec: messages per second for signing, verifying, encoding and decoding.

Run from the repository root: `python bench/codec.py` (see bench/README.md). No network is used.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hbtwist.wire import (  # noqa: E402 - after the sys.path set-up above
    AuthKey,
    AuthMethod,
    FieldType,
    Keyring,
    Message,
    decode_datagram,
    encode_datagram,
    encode_frame,
    sign_inner,
)

REPEATS = 5


def status_message() -> Message:
    """The status message of spec section 1.8 (node1, seq 0x2a), without its inner auth field."""
    message = Message.of(
        ("t", "status"), ("st", "active"), ("dt", "7530"), ("protocol", "1"), ("src", "node1")
    )
    srcuuid = uuid.UUID("5f3c7b1e-9a2d-4c6b-8e0f-112233445566").bytes
    message = message.with_field("srcuuid", srcuuid, FieldType.BINARY)
    for name, value in [
        ("seq", "2a"),
        ("hg", "5"),
        ("ts", "6581e3c0"),
        ("ld", "0.08 0.03 0.01 1/213 1234"),
        ("ttl", "3"),
    ]:
        message = message.with_field(name, value)
    return message


RINGS = {
    "sha1": Keyring(1, {1: AuthKey(1, AuthMethod.SHA1, b"Hello!")}),
    "md5": Keyring(3, {3: AuthKey(3, AuthMethod.MD5, b"Hello!")}),
    "crc": Keyring(1, {1: AuthKey(1, AuthMethod.CRC)}),
}


def rate(operation: Callable[[], object], iterations: int) -> float:
    """Median messages/second over REPEATS runs of `iterations` calls."""
    rates = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        for _ in range(iterations):
            operation()
        rates.append(iterations / (time.perf_counter() - started))
    return statistics.median(rates)


def cases() -> list[tuple[str, Callable[[], object]]]:
    """The benchmarked operations, each checked once for a correct result before timing."""
    message = status_message()
    result = []
    for method, ring in RINGS.items():
        datagram = encode_datagram(sign_inner(message, ring), ring)
        assert decode_datagram(datagram, ring) == sign_inner(message, ring)
        result.append(
            (
                f"udp  {method:<4} encode+sign   (sign_inner + encode_datagram)",
                lambda m=message, r=ring: encode_datagram(sign_inner(m, r), r),
            )
        )
        result.append(
            (
                f"udp  {method:<4} verify+decode (decode_datagram, {len(datagram)} B)",
                lambda d=datagram, r=ring: decode_datagram(d, r),
            )
        )
    ring = RINGS["sha1"]
    frame = encode_frame(message, ring)
    assert decode_datagram(frame, ring) == sign_inner(message, ring)
    result.append(("serial sha1 encode_frame", lambda: encode_frame(message, ring)))
    result.append(
        (
            f"serial sha1 verify+decode (decode_datagram, {len(frame)} B)",
            lambda: decode_datagram(frame, ring),
        )
    )
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--iterations", type=int, default=10_000, help="calls per repeat")
    args = parser.parse_args(argv)
    print(
        f"Python {platform.python_version()} ({platform.python_implementation()})",
        f"on {platform.machine()}",
    )
    print(f"{args.iterations} iterations x {REPEATS} repeats, median shown")
    for name, operation in cases():
        print(f"{name:<58} {rate(operation, args.iterations):>10,.0f} msg/s")


if __name__ == "__main__":
    main()
