"""Soak a real node with correctly signed hostile datagrams: `python bench/hostile.py [--count N]`.

The node of tests/hostile.py (three-node cluster, fake reactor, fake medium) receives N hostile
datagrams (default one million) from members, itself and strangers, 1,000 per simulated second.
It prints the datagram rate (generation excluded), the peak RSS, the peak and final size of each
bounded structure (marking those that went over their cap), and exits 1 if anything was raised
or logged as an unhandled error, or if the node stopped sending a status every keepalive.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from twisted.logger import Logger, globalLogBeginner  # noqa: E402

from tests.hostile import (  # noqa: E402
    KEEPALIVE,
    KEYRING,
    HostileGenerator,
    NodeHarness,
    caps,
    load_cluster,
    probe,
    write_cluster,
)

PER_KEEPALIVE = 100
"""Datagrams fed between two keepalives of simulated time (1,000 per simulated second)."""

_log = Logger()


def soak(count: int, seed: int) -> int:
    """Run the soak and print its figures; the exit status."""
    with tempfile.TemporaryDirectory() as directory:
        config = load_cluster(write_cluster(Path(directory) / "ha.d"))
    hostile = iter(HostileGenerator(KEYRING, seed))
    feeding = 0.0
    with NodeHarness(config) as harness:
        peaks = probe(harness.node)
        statuses_before = harness.link.statuses
        for number in range(1, count + 1):
            datagram = next(hostile).datagram
            started = time.perf_counter()
            try:
                harness.feed(datagram)
            except Exception:
                _log.failure("while receiving a datagram")
            feeding += time.perf_counter() - started
            if number % PER_KEEPALIVE == 0:
                harness.run(KEEPALIVE, KEEPALIVE)
                peaks = {name: max(size, peaks[name]) for name, size in probe(harness.node).items()}
        keepalives = count // PER_KEEPALIVE
        statuses = harness.link.statuses - statuses_before
        final, limits = probe(harness.node), caps(harness.node)
        still_beating = harness.heartbeats_during(1.0)
        errors = harness.log.errors
    print(f"datagrams          {count:,} (seed {seed})")
    print(f"rate               {count / feeding:,.0f} datagrams/s (node only, generation excluded)")
    print(f"peak RSS           {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.1f} MiB")
    print(
        f"statuses sent      {statuses:,} in {keepalives:,} keepalives;"
        f" {still_beating} in the last second"
    )
    print(f"unhandled errors   {len(errors)}")
    print(f"{'structure':<18} {'peak':>8} {'final':>8} {'cap':>8}")
    for name in final:
        print(f"{name:<18} {peaks[name]:>8,} {final[name]:>8,} {limits[name]:>8,}")
    for event in errors[:5]:
        failure = event.get("log_failure")
        print("error:", failure.getTraceback() if failure is not None else event.get("log_format"))
    over = [name for name in peaks if peaks[name] > limits[name]]
    if over:
        print("over their caps:", ", ".join(over))
    healthy = statuses >= keepalives - 1 and still_beating >= 9
    return 0 if healthy and not errors else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000, help="datagrams to feed")
    parser.add_argument("--seed", type=int, default=0, help="seed of the hostile generator")
    arguments = parser.parse_args()
    globalLogBeginner.beginLoggingTo([], redirectStandardIO=False)
    sys.exit(soak(arguments.count, arguments.seed))


if __name__ == "__main__":
    main()
