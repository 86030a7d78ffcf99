"""An idle cluster's cost: CPU per node over a window, memory per node, scheduling, troubles.

Several clusters are measured over the same window (`measure`), so the machine's other load
weighs on them alike. A node's CPU is utime + stime of all of its processes (with cutime + cstime
of the children they reaped) from /proc/PID/stat, the difference over the window divided by its
length; memory is sampled at the end of the window.
"""

from __future__ import annotations

import os
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from bench import procstat
from bench.clusters import Cluster


@dataclass
class IdleCost:
    """One cluster's figures over one window."""

    cpu_percent: dict[str, float]
    """Per node: CPU seconds used per second of window, in % of one CPU."""
    rss_kib: dict[str, int]
    """Per node: VmRSS summed over its memory processes."""
    pss_kib: dict[str, int]
    """Per node: PSS summed over its memory processes."""
    memory_process_count: dict[str, int]
    """Per node: how many processes its memory figures sum."""
    titles: list[str]
    """The titles of the first node's processes, as `ps` in its namespace shows them."""
    scheduling: Counter[str] = field(default_factory=Counter)
    """How many of the memory processes of all nodes run under each policy."""
    trouble: dict[str, int] = field(default_factory=dict)

    @property
    def cpu_mean(self) -> float:
        """Mean over the nodes of CPU %."""
        return statistics.fmean(self.cpu_percent.values())

    @property
    def cpu_max(self) -> float:
        """The busiest node's CPU %."""
        return max(self.cpu_percent.values())

    @property
    def rss_max(self) -> int:
        """The largest node's RSS (KiB)."""
        return max(self.rss_kib.values())

    @property
    def pss_max(self) -> int:
        """The largest node's PSS (KiB)."""
        return max(self.pss_kib.values())


@dataclass
class Window:
    """The clusters' costs over one window, and how busy the whole machine was meanwhile."""

    seconds: float
    costs: list[IdleCost]
    machine_busy_percent: float
    """All CPUs busy, everyone's processes included, in % of the machine."""
    clusters_percent: float
    """What the measured clusters' nodes used together, in % of the machine."""


def _cpu_by_node(clusters: Sequence[Cluster]) -> list[dict[str, float]]:
    return [
        {name: procstat.cpu_seconds(cluster.processes(name)) for name in cluster.names}
        for cluster in clusters
    ]


def measure(clusters: Sequence[Cluster], window: float) -> Window:
    """Measure `clusters` over the same `window` seconds (they must be up and settled)."""
    marks = [cluster.marks() for cluster in clusters]
    busy_before, total_before = procstat.machine_busy_seconds()
    started = time.monotonic()
    before = _cpu_by_node(clusters)
    time.sleep(window)
    after = _cpu_by_node(clusters)
    elapsed = time.monotonic() - started
    busy_after, total_after = procstat.machine_busy_seconds()
    costs = []
    for cluster, mark, used_before, used_after in zip(clusters, marks, before, after, strict=True):
        memory = {name: cluster.memory_processes(name) for name in cluster.names}
        first = cluster.names[0]
        scheduling: Counter[str] = Counter()
        for pids in memory.values():
            for pid in pids:
                sample = procstat.stat(pid)
                if sample is not None:
                    scheduling[sample.scheduling] += 1
        costs.append(
            IdleCost(
                cpu_percent={
                    name: 100 * (used_after[name] - used_before[name]) / elapsed
                    for name in cluster.names
                },
                rss_kib={name: procstat.rss_kib(pids) for name, pids in memory.items()},
                pss_kib={name: procstat.pss_kib(pids) for name, pids in memory.items()},
                memory_process_count={name: len(pids) for name, pids in memory.items()},
                titles=sorted(procstat.title(pid) for pid in cluster.processes(first)),
                scheduling=scheduling,
                trouble=cluster.trouble(mark),
            )
        )
    cpus = os.cpu_count() or 1
    busy = 100 * (busy_after - busy_before) / max(total_after - total_before, 1e-9)
    ours = sum(sum(cost.cpu_percent.values()) for cost in costs) / cpus
    return Window(elapsed, costs, busy, ours)
