"""Failover benchmark: the gap a client sees when the node serving a virtual IP dies.

Run as root (it builds network namespaces): `.venv/bin/python bench/failover.py`.
Hosts node1, node2 and a client (tests/integration/failover.py); the client sends a numbered
UDP datagram to 192.0.2.100 every 5 ms and an echo service on each node answers with the
node's name. node1 holds the address; it dies (both cables cut, its daemon SIGKILLed) and the
figure is the longest time between two replies around the death. For each setting it prints the
median and range over the runs for hbtwist (native IP path), hbtwist with the IPaddr2 agent
forced (`native_ip off`) and keepalived (VRRPv3, advert_int 0.02 s) when installed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.integration.failover import FAST, SLOW, VIP, HbtwistPair, Scenario, Timing, build  # noqa: E402
from tests.integration.keepalived import ADVERT_INT, KEEPALIVED, KeepalivedPair  # noqa: E402
from tests.integration.lab import Lab, LabError  # noqa: E402
from tests.integration.service import Failover, Prober, Reply, measure  # noqa: E402

TAKEOVER_TIMEOUT = 10.0
"""How long after the death the client waits for another node to answer."""
VARIANTS = (("hbtwist (native IP)", True), ("hbtwist (IPaddr2 agent)", False))
"""hbtwist's two ways of adding the address: in process, or the IPaddr2 script (`native_ip off`)."""
AFTERMATH = 0.5
"""How long the client keeps listening after the first answer of the new holder."""


class System(Protocol):
    """A pair of daemons sharing the virtual IP: started fresh, killed, put back."""

    def start(self, prober: Prober, since: float) -> None: ...

    def kill_master(self) -> float: ...

    def reset(self) -> None: ...


@dataclass
class Run:
    """One death and what the client saw; `problem` says why there is no gap."""

    failover: Failover | None = None
    detection: float | None = None
    """hbtwist: seconds from the death to node2 declaring node1 dead."""
    problem: str | None = None


@dataclass
class Series:
    """The runs of one system in one setting."""

    name: str
    runs: list[Run] = field(default_factory=list)
    skipped: int = 0

    def gaps(self) -> list[float]:
        """The measured gaps (s) of the runs where another node took over."""
        return [run.failover.gap for run in self.runs if run.failover and run.failover.gap is not None]

    def median(self) -> float | None:
        """The median gap (s), None without any."""
        gaps = self.gaps()
        return statistics.median(gaps) if gaps else None


def takeover_seen(replies: list[Reply], killed_at: float) -> Reply | None:
    """The first reply from another node than node1 after the death, if any."""
    return next((r for r in replies if r.received > killed_at and r.host != "node1"), None)


def observe(prober: Prober, killed_at: float) -> str | None:
    """Wait for the takeover and AFTERMATH seconds of replies after it; what went wrong, if any."""
    try:
        replies = prober.wait_for(
            lambda replies: takeover_seen(replies, killed_at) is not None,
            killed_at + TAKEOVER_TIMEOUT - time.time(),
            "a reply from another node",
        )
    except LabError:
        return f"no reply after kill within {TAKEOVER_TIMEOUT:.0f} s"
    first = takeover_seen(replies, killed_at)
    assert first is not None
    try:
        prober.wait_for(
            lambda replies: replies[-1].received >= first.received + AFTERMATH,
            TAKEOVER_TIMEOUT,
            "replies after the takeover",
        )
    except LabError:
        return f"replies stopped after the takeover by {first.host}"
    return None


def one_run(scenario: Scenario, system: System, number: int) -> Run:
    """Start `system`, kill node1 once the client hears it, and measure; always resets."""
    prober = Prober(scenario.lab, scenario.client, VIP, name=f"probe-{number}")
    try:
        try:
            system.start(prober, time.time())
        except LabError as error:
            return Run(problem=f"not ready: {str(error).splitlines()[0]}")
        killed_at = system.kill_master()
        detection = system.detection(killed_at) if isinstance(system, HbtwistPair) else None
        problem = observe(prober, killed_at)
        return Run(measure(prober.replies(), killed_at, "node1"), detection, problem)
    finally:
        prober.stop()
        system.reset()


def run_series(
    scenario: Scenario, name: str, system: System, runs: int, log: Callable[[str], None]
) -> Series:
    """`runs` runs of `system`. Until one run has measured a gap, a run without one ends the
    series: the system cannot fail over yet, and each further run would only wait as long."""
    series = Series(name)
    for number in range(1, runs + 1):
        result = one_run(scenario, system, number)
        series.runs.append(result)
        log(f"  {name} run {number}: {describe_run(result)}")
        if not series.gaps():
            series.skipped = runs - number
            break
    return series


def describe_run(run: Run) -> str:
    """One line about one run."""
    parts = []
    if run.failover is not None and run.failover.gap is not None:
        after = "+".join(run.failover.hosts_after)
        parts.append(f"gap {run.failover.gap * 1000:.0f} ms, answering after: {after}")
        if run.failover.duplicate:
            parts.append("DUPLICATE SERVICE")
    if run.problem is not None:
        parts.append(run.problem)
    if run.detection is not None:
        parts.append(f"node2 declared node1 dead after {run.detection * 1000:.0f} ms")
    return "; ".join(parts)


def summary(series: Series) -> str:
    """Median and range of the gaps, who answered after, duplicates; or why there are none."""
    gaps = series.gaps()
    if not gaps:
        problems = [run.problem for run in series.runs if run.problem]
        text = problems[0] if problems else "no run"
        if series.skipped:
            text += f" (run {len(series.runs)}; {series.skipped} more skipped)"
        return text
    ms = [gap * 1000 for gap in gaps]
    after = sorted({host for run in series.runs if run.failover for host in run.failover.hosts_after})
    duplicates = [
        str(i) for i, run in enumerate(series.runs, 1) if run.failover and run.failover.duplicate
    ]
    text = (
        f"median {statistics.median(ms):4.0f} ms, range {min(ms):.0f}-{max(ms):.0f} ms"
        f" ({len(gaps)}/{len(series.runs)} runs); answering after: {', '.join(after)};"
        f" duplicate service: {'runs ' + ', '.join(duplicates) if duplicates else 'none'}"
    )
    failed = [run.problem for run in series.runs if run.problem]
    if failed:
        text += f"; {failed[0]}"
    return text


def ratio(hbtwist: Series, yardstick: Series | None) -> str:
    """hbtwist's median over keepalived's, or why there is none."""
    theirs = yardstick.median() if yardstick is not None else None
    mine = hbtwist.median()
    if theirs is None:
        return "no keepalived figure"
    if mine is None:
        return "no hbtwist figure"
    return f"{mine / theirs:.2f}"


def print_setting(timing: Timing, native: Series, agent: Series, yardstick: Series | None) -> None:
    """The table of one setting."""
    print(f"\n{timing.label} (hbtwist); client-observed gap when node1 dies")
    rows = [native, agent] + ([yardstick] if yardstick is not None else [])
    width = max(len(series.name) for series in rows)
    for series in rows:
        print(f"  {series.name:<{width}}  {summary(series)}")
    ratios = f"native {ratio(native, yardstick)}, agent {ratio(agent, yardstick)}"
    print(f"  {'hbtwist / keepalived':<{width}}  {ratios}")


def keepalived_version() -> str:
    """keepalived's own version line."""
    answer = subprocess.run([KEEPALIVED, "--version"], capture_output=True, text=True, timeout=10)
    lines = (answer.stderr + answer.stdout).splitlines()
    return lines[0] if lines else "keepalived (version unknown)"


def main() -> int:
    """Measure every system in every setting and print the figures."""
    parser = argparse.ArgumentParser(description="hbtwist failover benchmark (needs root)")
    parser.add_argument("--runs", type=int, default=5, help="deaths per system and setting")
    parser.add_argument("--quick", action="store_true", help="2 runs each")
    args = parser.parse_args()
    runs = 2 if args.quick else args.runs
    if os.geteuid() != 0:
        print("bench/failover.py needs root (it builds network namespaces)", file=sys.stderr)
        return 2

    def log(line: str) -> None:
        print(line, flush=True)

    shm = Path("/dev/shm")
    scratch = str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="hbtwist-failover-", dir=scratch) as workdir:
        with Lab(Path(workdir)) as lab:
            scenario = build(lab)
            log(f"{runs} runs per system and setting; Python {sys.version.split()[0]}")
            yardstick = None
            if Path(KEEPALIVED).exists():
                log(keepalived_version())
                name = f"keepalived (advert_int {ADVERT_INT})"
                yardstick = run_series(scenario, name, KeepalivedPair(scenario), runs, log)
            else:
                log(f"{KEEPALIVED} is not installed: no keepalived figures")
            results = []
            for timing in (FAST, SLOW):
                log(timing.label)
                native, agent = (
                    run_series(
                        scenario, name, HbtwistPair(scenario, timing, native_ip, ask=False), runs, log
                    )
                    for name, native_ip in VARIANTS
                )
                results.append((timing, native, agent))
    for timing, native, agent in results:
        print_setting(timing, native, agent, yardstick)
    print(f"\n(keepalived measured once, shown in both settings; {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
