"""What the kernel says about processes: CPU time, memory, scheduling, namespaces (Linux /proc).

Every reader tolerates a process that ends while it is read (it then counts for nothing), since
a daemon's short-lived children come and go.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
POLICIES = {0: "SCHED_OTHER", 1: "SCHED_FIFO", 2: "SCHED_RR", 3: "SCHED_BATCH", 5: "SCHED_IDLE"}


@dataclass(frozen=True)
class Stat:
    """The fields of /proc/PID/stat a benchmark needs."""

    pid: int
    ppid: int
    cpu: float
    """utime + stime of the process itself, in seconds."""
    children_cpu: float
    """cutime + cstime: what its children that it has reaped used, in seconds."""
    rtprio: int
    policy: int

    @property
    def scheduling(self) -> str:
        """The scheduling policy and real-time priority, e.g. `SCHED_RR 1` or `SCHED_OTHER`."""
        name = POLICIES.get(self.policy & 0xFF, f"policy {self.policy}")
        return f"{name} {self.rtprio}" if self.rtprio else name


def stat(pid: int) -> Stat | None:
    """/proc/PID/stat, or None if the process is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces; fields 3.. follow it.
    fields = text.rpartition(")")[2].split()
    return Stat(
        pid=pid,
        ppid=int(fields[1]),
        cpu=(int(fields[11]) + int(fields[12])) / TICKS,
        children_cpu=(int(fields[13]) + int(fields[14])) / TICKS,
        rtprio=int(fields[37]),
        policy=int(fields[38]),
    )


def cpu_seconds(pids: Iterable[int]) -> float:
    """CPU time so far of `pids` and of the children they have reaped (utime, stime, cutime,
    cstime), in seconds. Over a window, a process that appears counts from its birth and one
    reaped by another of `pids` stays counted through its parent's cutime/cstime."""
    total = 0.0
    for pid in pids:
        sample = stat(pid)
        if sample is not None:
            total += sample.cpu + sample.children_cpu
    return total


def _status_kib(pid: int, key: str) -> int:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return 0
    for line in lines:
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def rss_kib(pids: Iterable[int]) -> int:
    """Resident memory (VmRSS) of `pids`, summed, in KiB: pages shared between them count once
    per process."""
    return sum(_status_kib(pid, "VmRSS") for pid in pids)


def pss_kib(pids: Iterable[int]) -> int:
    """Proportional set size of `pids`, summed, in KiB: a page shared by N processes counts 1/N
    in each, so the sum is what they cost together."""
    total = 0
    for pid in pids:
        try:
            lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
        except OSError:
            continue
        total += next((int(line.split()[1]) for line in lines if line.startswith("Pss:")), 0)
    return total


def title(pid: int) -> str:
    """The process's command line as it shows it (a daemon's children retitle themselves)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "?"
    return raw.replace(b"\0", b" ").decode(errors="replace").strip() or "?"


def _namespace(pid: int | str, kind: str) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/{kind}")
    except OSError:
        return None


def all_pids() -> list[int]:
    """Every process id on the machine now."""
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]


def pid_namespace_members(pid: int) -> list[int]:
    """Every process in the PID namespace of `pid` (host pids), as `ps` run in it lists them."""
    wanted = _namespace(pid, "pid")
    if wanted is None:
        return []
    return [other for other in all_pids() if _namespace(other, "pid") == wanted]


def network_namespace_members(netns: str) -> list[int]:
    """Every process in the named network namespace (as `ip netns pids NAME`, without running it)."""
    try:
        info = os.stat(f"/run/netns/{netns}")
    except OSError:
        return []
    wanted = f"net:[{info.st_ino}]"
    return [other for other in all_pids() if _namespace(other, "net") == wanted]


def machine_busy_seconds() -> tuple[float, float]:
    """(CPU seconds busy, CPU seconds in total) of the whole machine since boot, all CPUs, from
    /proc/stat: compare two readings for the load over a window."""
    fields = [int(word) for word in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])  # user nice system idle iowait irq softirq steal
    return (total - idle) / TICKS, total / TICKS
