"""Cluster benchmark: idle CPU and memory of one node, and failure detection time.

Run as root (it builds network namespaces): `.venv/bin/python bench/cluster.py`.
Nodes use `keepalive 100ms`, `deadtime 500ms` and two media (ucast on LAN A, bcast on LAN B).
Prints, for a 2-node and an 8-node cluster, the CPU % and RSS of one node over an idle window,
and the time from `kill -9` of a node to a survivor declaring it dead (median of 5).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.integration.lab import Host, Lab, Node  # noqa: E402

AUTHKEYS = "auth 1\n1 sha1 benchmark-secret\n"
TICKS = os.sysconf("SC_CLK_TCK")


def ha_cf(hosts: list[Host]) -> str:
    """A configuration for `hosts` with ucast on LAN A and bcast on LAN B."""
    lines = [
        "keepalive 100ms",
        "warntime 300ms",
        "deadtime 500ms",
        "initdead 10",
        "udpport 694",
        *(f"ucast eth0 {host.addr_a}" for host in hosts),
        "bcast eth1",
        "node " + " ".join(host.name for host in hosts),
        "auto_failback on",
    ]
    return "\n".join(lines) + "\n"


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_kib(pid: int) -> int:
    """Resident memory of a process."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def all_active(nodes: list[Node], names: list[str], timeout: float) -> None:
    """Wait until every node reports every node active."""
    for node in nodes:
        node.wait_for(lambda view: all(view.nodes.get(n) == "active" for n in names), timeout)


def idle_cost(workdir: Path, size: int, window: float) -> tuple[float, int]:
    """CPU % and RSS (KiB) of the first node of a `size`-node cluster over an idle window."""
    with Lab(workdir / f"idle{size}") as lab:
        hosts = [lab.add_host(f"n{i}", i) for i in range(1, size + 1)]
        config = ha_cf(hosts)
        nodes = [lab.start_hbtwist(host, config, AUTHKEYS) for host in hosts]
        all_active(nodes, [h.name for h in hosts], timeout=30)
        time.sleep(6)
        pid = nodes[0].pid
        start_cpu, start = cpu_seconds(pid), time.monotonic()
        time.sleep(window)
        used = cpu_seconds(pid) - start_cpu
        return 100 * used / (time.monotonic() - start), rss_kib(pid)


def detection_times(workdir: Path, rounds: int) -> list[float]:
    """Seconds from `kill -9` of n2 to n1 reporting it dead, once per round."""
    times = []
    with Lab(workdir / "detect") as lab:
        hosts = [lab.add_host(f"n{i}", i) for i in (1, 2)]
        config = ha_cf(hosts)
        survivor, victim = (lab.start_hbtwist(host, config, AUTHKEYS) for host in hosts)
        for _ in range(rounds):
            all_active([survivor, victim], ["n1", "n2"], timeout=30)
            time.sleep(6)
            seen = len(survivor.events("node_status_changed"))
            killed_at = time.time()
            victim.kill(signal.SIGKILL)
            victim.wait()
            survivor.wait_for(lambda view: view.nodes.get("n2") == "dead", timeout=10)
            death = next(
                event
                for event in survivor.events("node_status_changed")[seen:]
                if event["node"] == "n2" and event["new"] == "dead"
            )
            times.append(float(death["time"]) - killed_at)
            victim = lab.restart(victim)
    return times


def main() -> int:
    """Run both measurements and print the figures."""
    parser = argparse.ArgumentParser(description="hbtwist cluster benchmark (needs root)")
    parser.add_argument("--window", type=float, default=30.0, help="idle window in seconds")
    parser.add_argument("--rounds", type=int, default=5, help="detection measurements")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench/cluster.py needs root (it builds network namespaces)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="hbtwist-bench-") as workdir:
        print(f"keepalive 100ms, deadtime 500ms, media: ucast + bcast; Python {sys.version.split()[0]}")
        for size in (2, 8):
            cpu, rss = idle_cost(Path(workdir), size, args.window)
            print(f"{size}-node cluster: one node idle CPU {cpu:.2f} %, RSS {rss / 1024:.1f} MiB")
        times = detection_times(Path(workdir), args.rounds)
        shown = ", ".join(f"{t * 1000:.0f}" for t in times)
        print(f"detection (kill -9 -> dead): median {statistics.median(times) * 1000:.0f} ms ({shown})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
