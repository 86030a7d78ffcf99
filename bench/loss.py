"""Loss benchmark: false deaths and false failovers of a virtual IP under random packet loss.

Run as root (it builds network namespaces): `.venv/bin/python bench/loss.py`.
The failover lab (tests/integration/failover.py): node1 holds 192.0.2.100 at the benchmark
setting of the failover benchmark (keepalive 10 ms, deadtime 60 ms, warntime 30 ms, ucast on
LAN A and bcast on LAN B), a client sends a numbered datagram to the address every 5 ms. Then
both nodes drop the given share of every packet they receive (nftables, `numgen random`) for the
given time, and nobody dies. For each loss rate it prints, for hbtwist and for keepalived (VRRPv3,
advert_int 0.05 s, when installed):

* false deaths: a node declaring its living peer dead (hbtwist's `node ... is dead`);
* false failovers: the address changing node, as the client sees it (which node answers), and
  for hbtwist also the groups the other node started;
* dual service: one datagram answered by both nodes, or the answering node changing and changing
  back within a second;
* for hbtwist, the link deaths, late-heartbeat warnings and own stalls it reported.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.integration.failover import FAST, HbtwistPair, build  # noqa: E402
from tests.integration.keepalived import KEEPALIVED, KeepalivedPair  # noqa: E402
from tests.integration.lab import Lab  # noqa: E402
from tests.integration.soak import Soak, soak  # noqa: E402

LOSS_RATES = (10, 30, 50)
KEEPALIVED_ADVERT = 0.05


def main() -> int:
    """Soak every system at every loss rate and print the figures."""
    parser = argparse.ArgumentParser(
        description="hbtwist false-failover benchmark under loss (needs root)"
    )
    parser.add_argument("--seconds", type=float, default=600.0, help="length of each loss period")
    parser.add_argument(
        "--loss", type=int, action="append", help=f"loss rate in %% (repeatable; default {LOSS_RATES})"
    )
    parser.add_argument("--no-keepalived", action="store_true", help="measure hbtwist only")
    args = parser.parse_args()
    rates = tuple(args.loss or LOSS_RATES)
    if os.geteuid() != 0:
        print("bench/loss.py needs root (it builds network namespaces)", file=sys.stderr)
        return 2

    def log(line: str) -> None:
        print(line, flush=True)

    shm = Path("/dev/shm")
    scratch = str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None
    results: list[Soak] = []
    with tempfile.TemporaryDirectory(prefix="hbtwist-loss-", dir=scratch) as workdir:
        with Lab(Path(workdir)) as lab:
            scenario = build(lab)
            log(f"{FAST.label}; {args.seconds:.0f} s per loss rate; Python {sys.version.split()[0]}")
            systems: list[tuple[str, Callable[[], HbtwistPair | KeepalivedPair]]] = [
                ("hbtwist", lambda: HbtwistPair(scenario, FAST, ask=False))
            ]
            if not args.no_keepalived and Path(KEEPALIVED).exists():
                systems.append(
                    (
                        f"keepalived (advert {KEEPALIVED_ADVERT})",
                        lambda: KeepalivedPair(scenario, KEEPALIVED_ADVERT),
                    )
                )
            for percent in rates:
                for name, make in systems:
                    result = soak(scenario, name, make(), percent, args.seconds)
                    log(result.line())
                    results.append(result)
    print("\nsummary")
    for result in results:
        print(result.line())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
