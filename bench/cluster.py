"""Cluster benchmark: hbtwist beside a real Heartbeat 3.0.6, measured in the same run.

Run as root (it builds network namespaces): `.venv/bin/python bench/cluster.py [--quick]`.
For each setting two clusters of the same size run side by side, one of each kind, each in a
lab of its own (bench/clusters.py: the same ha.cf, ucast on LAN A to every peer, bcast on LAN B,
authkeys sha1, `realtime` the same for both), and are measured over the same idle window
(bench/idle.py). Prints one table, hbtwist | Heartbeat 3.0.6 | ratio (hbtwist / Heartbeat):

* idle CPU per node (mean over the nodes; the busiest node in parentheses) at keepalive 100ms /
  deadtime 500ms and at keepalive 10ms / deadtime 60ms / warntime 30ms, 2 and 8 nodes;
* memory of the largest node: hbtwist's twistd process, Heartbeat's processes summed (RSS, PSS);
* `hbctl listnodes` and `cl_status listnodes` on a live node (median wall time), and each as a
  multiple of a bare `python -c pass` of hbctl's interpreter;
* detection: `kill -9` of n2 to n1 declaring it dead, 2 nodes at 100ms / 500ms (median).

Without Heartbeat installed it prints hbtwist's figures alone and says why.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import clusters, idle  # noqa: E402
from bench.clusters import Cluster, HbtwistCluster, HeartbeatCluster  # noqa: E402
from bench.report import KINDS, Table, interpreter_of, ms, ratio, window_summary  # noqa: E402
from tests.integration.failover import FAST, SLOW, Timing  # noqa: E402
from tests.integration.lab import HBCTL, Lab, LabError  # noqa: E402

SETTINGS = ((SLOW, 2), (SLOW, 8), (FAST, 2), (FAST, 8))
ClusterKind = type[HbtwistCluster] | type[HeartbeatCluster]
START_TIMEOUT = 120.0
SETTLE_SECONDS = 3.0
"""Waited beyond the start-up period before a window, for the start's after-effects to pass."""
SATURATED_PERCENT = 90.0
"""A window with the whole machine busier than this measured what the daemons got, not what
they would have used."""
OWN_SATURATION_PERCENT = 50.0
"""...and the measured clusters used at least this much of the machine themselves."""
DETECTION_TIMEOUT = 10.0
_lab_numbers = itertools.count(1)


@contextmanager
def started(
    workdir: Path, timing: Timing, size: int, realtime: bool, kinds: Sequence[ClusterKind]
) -> Iterator[list[Cluster]]:
    """A lab and a `size`-node cluster for each kind, started together and settled; all stopped
    and removed on leaving."""
    with ExitStack() as stack:
        running: list[Cluster] = []
        for kind in kinds:
            lab = stack.enter_context(Lab(workdir / f"{next(_lab_numbers)}-{kind.__name__}"))
            hosts = [lab.add_host(f"n{i}", i) for i in range(1, size + 1)]
            made = kind(lab, hosts, timing, realtime)
            stack.callback(made.close)
            running.append(made)
        for cluster in running:
            cluster.start()
        for cluster in running:
            clusters.wait_all_active(cluster, START_TIMEOUT)
        clusters.wait_startup_over(running, timing.keepalive_ms, SETTLE_SECONDS)
        yield running


def command_times(commands: dict[str, list[str]], runs: int) -> dict[str, list[float]]:
    """Wall time (s) of each command, run `runs` times in turn (interleaved, so the machine's
    load weighs on all alike); a failing command is a LabError."""
    times: dict[str, list[float]] = {key: [] for key in commands}
    for _ in range(runs):
        for key, argv in commands.items():
            started = time.perf_counter()
            result = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
            times[key].append(time.perf_counter() - started)
            if result.returncode != 0:
                raise LabError(f"{' '.join(argv)}: exit status {result.returncode}: {result.stderr}")
    return times


def listnodes_rows(table: Table, running: Sequence[Cluster], runs: int) -> None:
    """Time `hbctl listnodes` and `cl_status listnodes` on n1, and a bare interpreter."""
    interpreter = interpreter_of(HBCTL)
    commands = {"python": [interpreter, "-c", "pass"]}
    names = {"hbtwist": "hbctl", "Heartbeat 3.0.6": "cl_status"}
    for cluster in running:
        commands[names[cluster.label]] = cluster.listnodes_argv("n1")
    if isinstance(running[-1], HeartbeatCluster):
        commands["nsenter"] = [*running[-1].beside_argv("n1"), "true"]
    outputs = {
        key: subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False).stdout
        for key, argv in commands.items()
        if key in ("hbctl", "cl_status")
    }
    times = {key: statistics.median(values) for key, values in command_times(commands, runs).items()}
    python = times["python"]
    hb_time = times.get("cl_status")
    table.row(
        "listnodes on a live node, median wall time",
        ms(times["hbctl"]),
        ms(hb_time),
        ratio(times["hbctl"], hb_time),
    )
    table.row(
        "  ... as a multiple of `python -c pass`",
        f"{times['hbctl'] / python:.1f}x",
        None if hb_time is None else f"{hb_time / python:.1f}x",
        ratio(times["hbctl"], hb_time),
    )
    table.note(f"`python -c pass` ({interpreter}): {ms(python)}, median of {runs}")
    if "nsenter" in times:
        table.note(
            f"cl_status runs through nsenter into the daemon's namespaces; nsenter alone: "
            f"{ms(times['nsenter'])}"
        )
    if "cl_status" in outputs:
        same = sorted(outputs["hbctl"].split()) == sorted(outputs["cl_status"].split())
        table.note(
            f"hbctl and cl_status list the same nodes: {'yes' if same else 'NO'} "
            f"({outputs['hbctl'].split()} / {outputs['cl_status'].split()})"
        )
    table.target("hbctl listnodes <= 5x python -c pass", times["hbctl"] / python <= 5)


def _deaths_seen(running: Sequence[Cluster], killed: dict[str, float]) -> bool:
    for cluster in running:
        cluster.poll()
    return all(
        clusters.death_seen(cluster, "n1", "n2", killed[cluster.label]) is not None
        for cluster in running
    )


def detection(running: Sequence[Cluster], timing: Timing, rounds: int) -> dict[str, list[float | None]]:
    """Seconds from `kill -9` of n2 to n1 declaring it dead, per round, per kind (all kinds
    killed in the same round; None: not within DETECTION_TIMEOUT); n2 is restarted and let past
    its start-up period between rounds."""
    times: dict[str, list[float | None]] = {cluster.label: [] for cluster in running}
    for _ in range(rounds):
        clusters.wait_startup_over(running, timing.keepalive_ms)
        killed = {cluster.label: cluster.kill("n2") for cluster in running}
        try:
            clusters.wait_until(
                partial(_deaths_seen, running, killed),
                DETECTION_TIMEOUT,
                "n2's death",
                clusters.POLL_INTERVAL,
            )
        except LabError:
            pass  # reported as a round without a figure
        for cluster in running:
            seen = clusters.death_seen(cluster, "n1", "n2", killed[cluster.label])
            times[cluster.label].append(None if seen is None else seen - killed[cluster.label])
            cluster.restart("n2")
        for cluster in running:
            clusters.wait_all_active(cluster, START_TIMEOUT)
    return times


def idle_rows(table: Table, windows: Sequence[idle.Window], what: str, memory: bool) -> None:
    """The CPU row of one setting measured in `windows` (one side by side, or one per kind), and
    with `memory` the memory rows."""
    costs = [cost for window in windows for cost in window.costs]
    tw, hb = costs[0], (costs[1] if len(costs) > 1 else None)
    flags = []
    if any(window.machine_busy_percent >= SATURATED_PERCENT for window in windows):
        flags.append("saturated")
    if any(cost.trouble.get("node deaths") for cost in costs):
        flags.append("false deaths")
    table.row(
        f"idle CPU per node, {what}" + (f" [{', '.join(flags)}]" if flags else ""),
        f"{tw.cpu_mean:.2f} % ({tw.cpu_max:.2f})",
        None if hb is None else f"{hb.cpu_mean:.2f} % ({hb.cpu_max:.2f})",
        ratio(tw.cpu_mean, None if hb is None else hb.cpu_mean),
    )
    labels = [KINDS] if len(windows) == 1 else [(kind,) for kind in KINDS]
    for window, kinds in zip(windows, labels, strict=True):
        table.windows.append(window_summary(what, window, kinds))
    if hb is not None:
        table.target(f"CPU ratio <= 1.0, {what}", tw.cpu_mean <= hb.cpu_mean, ", ".join(flags))
    if not memory:
        return
    for name, largest in (("RSS", lambda cost: cost.rss_max), ("PSS", lambda cost: cost.pss_max)):
        theirs = (
            None
            if hb is None
            else f"{largest(hb) / 1024:.1f} MiB, sum of {max(hb.memory_process_count.values())}"
        )
        table.row(
            f"{name} of the largest node, {what}",
            f"{largest(tw) / 1024:.1f} MiB",
            theirs,
            ratio(largest(tw), None if hb is None else largest(hb)),
        )
    table.target(f"RSS <= 48 MB, {what}", tw.rss_max * 1024 <= 48_000_000)
    table.processes.setdefault("hbtwist", tw.titles)
    if hb is not None:
        table.processes.setdefault("Heartbeat 3.0.6", hb.titles)


def detection_row(table: Table, times: dict[str, list[float | None]], timing: Timing) -> None:
    """The detection row: median and range of each kind's rounds."""
    medians: dict[str, float | None] = {}
    cells: dict[str, str | None] = {}
    for kind in KINDS:
        if kind not in times:
            continue
        seen = [value for value in times[kind] if value is not None]
        medians[kind] = statistics.median(seen) if seen else None
        missed = len(times[kind]) - len(seen)
        cells[kind] = (ms(medians[kind], seen) or "") + (f", {missed} not seen" if missed else "")
    ours = medians["hbtwist"]
    table.row(
        f"detection (kill -9 to peer says dead), 2 nodes, {timing.label}",
        cells["hbtwist"],
        cells.get(KINDS[1]),
        None if ours is None else ratio(ours, medians.get(KINDS[1])),
    )
    table.note(
        f"Detection: median (range) of {len(times['hbtwist'])} rounds, `not seen`: not within "
        f"{DETECTION_TIMEOUT:.0f} s; hbtwist's time is its event's, Heartbeat's when its `is dead` "
        f"line was first read (logs read every {clusters.POLL_INTERVAL * 1000:.0f} ms)"
    )


def progress(text: str) -> None:
    """A line on standard error saying what the benchmark does now."""
    print(time.strftime("%H:%M:%S"), text, file=sys.stderr, flush=True)


def measure_setting(
    args: argparse.Namespace, workdir: Path, table: Table, timing: Timing, size: int
) -> None:
    """One setting, both kinds side by side; if the clusters themselves saturated the machine,
    again one kind at a time (side by side they would share what the machine had)."""
    kinds: list[ClusterKind] = (
        [HbtwistCluster, HeartbeatCluster] if table.heartbeat else [HbtwistCluster]
    )
    what = f"{size} nodes, {timing.label}"
    progress(f"{what}: {' and '.join(kind.label for kind in kinds)} side by side")
    with started(workdir, timing, size, args.realtime, kinds) as running:
        window = idle.measure(running, args.window)
        idle_rows(table, [window], what, memory=size == 8)
        if (timing, size) == (SLOW, 2):
            progress(f"{what}: listnodes")
            listnodes_rows(table, running, args.runs)
            progress(f"{what}: detection")
            detection_row(table, detection(running, timing, args.rounds), timing)
    saturated = window.machine_busy_percent >= SATURATED_PERCENT
    if len(kinds) > 1 and saturated and window.clusters_percent >= OWN_SATURATION_PERCENT:
        alone = []
        for kind in kinds:
            progress(f"{what}: {kind.label} alone")
            with started(workdir, timing, size, args.realtime, [kind]) as running:
                alone.append(idle.measure(running, args.window))
        idle_rows(table, alone, f"{what}, one kind at a time", memory=False)


def run(args: argparse.Namespace, workdir: Path, table: Table) -> None:
    """Every setting in turn; a setting that fails is reported and the others still run."""
    for timing, size in SETTINGS:
        try:
            measure_setting(args, workdir, table, timing, size)
        except LabError as error:
            what = f"{size} nodes, {timing.label}"
            table.row(f"{what}: FAILED", "-", "-" if table.heartbeat else None, None)
            table.note(f"{what} failed: {str(error)[:400]}")
            progress(f"{what} failed: {error}")


def main() -> int:
    """Measure every setting and print the table."""
    parser = argparse.ArgumentParser(description="hbtwist beside Heartbeat 3.0.6 (needs root)")
    parser.add_argument("--window", type=float, default=30.0, help="idle window per setting, seconds")
    parser.add_argument("--rounds", type=int, default=5, help="detection measurements")
    parser.add_argument("--runs", type=int, default=20, help="runs of each listnodes command")
    parser.add_argument("--quick", action="store_true", help="8 s windows, 2 rounds, 5 runs")
    parser.add_argument(
        "--realtime",
        action="store_true",
        help="run both at real-time priority (ha.cf `realtime on`); default off",
    )
    parser.add_argument("--no-heartbeat", action="store_true", help="measure hbtwist alone")
    args = parser.parse_args()
    if args.quick:
        args.window, args.rounds, args.runs = 8.0, 2, 5
    if os.geteuid() != 0:
        print("bench/cluster.py needs root (it builds network namespaces)", file=sys.stderr)
        return 2
    clusters.unwind_on_termination()
    missing = "not asked for (--no-heartbeat)" if args.no_heartbeat else clusters.heartbeat_missing()
    table = Table(heartbeat=missing is None)
    both = "both" if missing is None else "hbtwist"
    print(f"hbtwist beside Heartbeat 3.0.6; Python {sys.version.split()[0]}; {os.cpu_count()} CPUs")
    print(
        f"ha.cf of {both}: ucast eth0 to every peer, bcast eth1, udpport 694, crm off, authkeys sha1;"
        f" realtime {'on' if args.realtime else 'off'}; idle window {args.window:.0f} s per setting"
        + (", both clusters measured over the same window" if missing is None else "")
    )
    if missing is not None:
        print(f"Heartbeat 3.0.6 not measured: {missing}; hbtwist's figures alone")
    with tempfile.TemporaryDirectory(prefix="hbtwist-bench-", dir="/dev/shm") as workdir:
        run(args, Path(workdir), table)
    table.print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
