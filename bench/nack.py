"""NACK benchmark on a simulated network: `python bench/nack.py`.

One sender streams application messages to N receivers over one lossy medium, on a simulated
clock, so every figure is exact and repeatable. For N = 2, 4, 8, 16 and 1 %, 10 %, 30 % loss it
prints requests sent and retransmissions per lost packet and delivery-delay percentiles, for
hbtwist (range requests with suppression) and for Heartbeat-exact requests, side by side.

Two loss models: "shared" loses a packet on the medium for every receiver at once (a collision
or a sender-side drop: the case that causes NACK implosion), "independent" loses each
receiver's copy on its own. A lost packet is a (message, receiver) pair missed at first sending
in the independent model, and a message missed by every receiver in the shared one.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hbtwist.core.timing import Timing  # noqa: E402
from hbtwist.wire import Message  # noqa: E402
from tests.simnet import SimNet  # noqa: E402

TIMING = Timing(keepalive_ms=1000, deadtime_ms=10000, warntime_ms=5000, initdead_ms=10000)
SENDER = "n0"


class MeasuredNet(SimNet):
    """A SimNet that counts first-transmission losses and times every delivery."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        self.first_losses = 0
        self.seen: set[str] = set()
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def missed(self, source: str, message: Message, targets: list[str]) -> None:
        seq = message.text("seq")
        if source != SENDER or seq is None or seq in self.seen:
            return
        self.seen.add(seq)
        self.first_losses += len(targets)


def run(
    receivers: int, loss: float, shared: bool, exact: bool, count: int, seed: int
) -> dict[str, float]:
    """Stream `count` messages and measure; returns the figures of one table cell."""
    names = [SENDER] + [f"n{i}" for i in range(1, receivers + 1)]
    net = MeasuredNet(
        names,
        links=("eth0",),
        timing=TIMING,
        seed=seed,
        heartbeat_exact=exact,
        latency=0.0005,
    )
    net.start()
    net.run(2.0, step=0.01)
    if shared:
        net.source_loss = loss
    else:
        net.loss = loss
    net.first_losses = 0
    net.seen = {m.text("seq") or "" for source, m in net.wire_log if source == SENDER}
    before = {name: net.nodes[name].core.stats.copy() for name in names}
    submitted: dict[str, float] = {}
    for number in range(count):
        submitted[str(number)] = net.clock.seconds()
        net.nodes[SENDER].core.submit(Message.of(("t", "bench"), ("n", str(number))))
        net.run(0.01, step=0.01)
    net.loss = net.source_loss = 0.0
    net.run(15.0, step=0.01)
    requests = sum(
        net.nodes[n].core.stats.rexmit.requests_sent - before[n].rexmit.requests_sent
        for n in names
    )
    sender = net.nodes[SENDER].core.stats
    retransmissions = sender.rexmit.answered - before[SENDER].rexmit.answered
    delays = []
    for name in names[1:]:
        node = net.nodes[name]
        for moment, (source, message) in zip(node.delivered_at, node.delivered, strict=True):
            if source == SENDER and message.text("t") == "bench":
                delays.append((moment - submitted[message.text("n") or ""]) * 1000)
    lost = net.first_losses / (receivers if shared else 1) if net.first_losses else 0
    delays.sort()
    return {
        "lost": lost,
        "requests": requests / lost if lost else 0.0,
        "rexmits": retransmissions / lost if lost else 0.0,
        "p50": statistics.median(delays),
        "p99": delays[int(len(delays) * 0.99) - 1],
        "max": delays[-1],
        "complete": len(delays) / (count * receivers),
    }


def main() -> int:
    """Print both tables."""
    parser = argparse.ArgumentParser(description="NACK benchmark on a simulated network")
    parser.add_argument("--count", type=int, default=300, help="messages streamed per run")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(f"{args.count} messages, 10 ms apart, one medium, max_rexmit_delay 250 ms, simulated clock")
    for shared in (True, False):
        print(f"\n{'shared' if shared else 'independent'} loss")
        print(
            f"{'N':>3} {'loss':>5} | {'mode':<9} {'lost':>6} {'req/lost':>8} {'rexmit/lost':>11} "
            f"{'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'delivered':>9}"
        )
        for receivers in (2, 4, 8, 16):
            for loss in (0.01, 0.10, 0.30):
                for exact in (False, True):
                    cell = run(receivers, loss, shared, exact, args.count, args.seed)
                    print(
                        f"{receivers:>3} {loss:>5.0%} | {'heartbeat' if exact else 'hbtwist':<9} "
                        f"{cell['lost']:>6.0f} {cell['requests']:>8.2f} {cell['rexmits']:>11.2f} "
                        f"{cell['p50']:>7.1f} {cell['p99']:>7.1f} {cell['max']:>7.1f} "
                        f"{cell['complete']:>9.1%}"
                    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
