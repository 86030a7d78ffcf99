"""Scale benchmark: one hbtwist cluster of 32 nodes (or `--nodes N`) at keepalive 1 s.

Run as root (it builds network namespaces): `.venv/bin/python bench/scale.py [--nodes 2]`.
Hosts n1 ... nN of the test lab (eth0 on LAN A 192.0.2.0/24, eth1 on LAN B 198.51.100.0/24),
the ha.cf of bench/clusters.py (ucast eth0 to every peer, bcast eth1) with keepalive 1 s,
deadtime 10 s, warntime 5 s, initdead 20 s: the ratios of Heartbeat's sample ha.cf and of the
usual published configurations at a 1 s keepalive. One resource group, preferred by n1:
`IPaddr2::192.0.2.100/24/eth0` (hbtwist's native address) and `Marker::g1`, a resource.d
script whose state is a file. Prints:

* start: every daemon started at once; the time from the last node's start (its own `up`
  event) until every node sees all N active;
* idle: CPU per node (mean and max over the nodes) over a window, RSS per node;
* death: `kill -9` of n1, which holds the group; the time until every survivor has declared it
  dead, and until the group runs on its takeover node (by the rule of doc/failover.md, n2).

With Heartbeat 3.0.6 installed, it also starts an 8-node Heartbeat cluster (same ha.cf, no
resources) for its start figure (`--heartbeat-nodes 0` skips it).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import clusters, idle  # noqa: E402
from bench.clusters import Cluster, HbtwistCluster, HeartbeatCluster  # noqa: E402
from tests.integration.ctsnode import MARKER_SCRIPT  # noqa: E402
from tests.integration.failover import Timing  # noqa: E402
from tests.integration.lab import Host, Lab, LabError  # noqa: E402

VIP = "192.0.2.100"
GROUP = f"IPaddr2::{VIP}/24/eth0"
HARESOURCES = f"n1 {GROUP} Marker::g1\n"
START_TIMEOUT = 240.0
"""32 Python daemons importing at once on 2 CPUs take a while before the first heartbeat."""
GROUP_TIMEOUT = 60.0
MAX_NODES = 79
"""The lab gives host i the addresses .(10+i) of both LANs; the virtual IP .100 must stay free."""


def install_marker(lab: Lab, host: Host) -> None:
    """Put the Marker script into the host's resource.d, its state in the host's directory."""
    home = lab.host_dir(host)
    markers = home / "markers"
    markers.mkdir(exist_ok=True)
    script = home / "ha.d" / "resource.d" / "Marker"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(MARKER_SCRIPT.format(markers=markers))
    script.chmod(0o755)


def start_figures(cluster: Cluster, began: float) -> tuple[float, float, float]:
    """(seconds from the first spawn to the last node's start; from that start until every node
    is active itself (its comm-up); from that start until every node sees every node active)."""
    names = cluster.names
    ups = [cluster.up_time(name) for name in names]
    own = [clusters.first_all_active(cluster.changes(name), [name]) for name in names]
    everyone = [clusters.first_all_active(cluster.changes(name), names) for name in names]
    if None in ups or None in own or None in everyone:
        raise LabError("start figures asked before every node saw every node active")
    last_up = max(up for up in ups if up is not None)
    comm_up = max(active for active in own if active is not None)
    all_active = max(active for active in everyone if active is not None)
    return last_up - began, comm_up - last_up, all_active - last_up


def group_runs_on(cluster: HbtwistCluster, since: float) -> list[tuple[str, float]]:
    """(node, time) of every node that logged the group running at or after `since`."""
    found = []
    for name, node in cluster.nodes.items():
        for event in node.events("group_state_changed", group=GROUP, new="running"):
            if float(event["time"]) >= since:
                found.append((name, float(event["time"])))
                break
    return found


def holds_vip(host: Host) -> bool:
    """Whether the host has the virtual IP on eth0."""
    out = host.run("ip", "-o", "-4", "addr", "show", "dev", "eth0").stdout
    return f" {VIP}/" in out


def death(cluster: HbtwistCluster, deadtime_s: float) -> None:
    """Kill n1 (the group's holder) and print how long until the survivors see it and the group
    runs elsewhere."""
    survivors = [name for name in cluster.names if name != "n1"]
    killed = cluster.kill("n1")

    def settled() -> bool:
        seen = all(clusters.death_seen(cluster, name, "n1", killed) is not None for name in survivors)
        return seen and bool(group_runs_on(cluster, killed))

    clusters.wait_until(settled, deadtime_s + GROUP_TIMEOUT, "n1 dead everywhere, its group taken over")
    deaths = [clusters.death_seen(cluster, name, "n1", killed) for name in survivors]
    delays = sorted(seen - killed for seen in deaths if seen is not None)
    print(
        f"kill -9 n1 -> all {len(survivors)} survivors see it dead: {delays[-1]:.2f} s "
        f"(first {delays[0]:.2f} s, median {statistics.median(delays):.2f} s)"
    )
    # A second taker, if any, would start within its own detection of the death.
    time.sleep(1.0)
    takers = group_runs_on(cluster, killed)
    for name, when in takers:
        served = "serving" if holds_vip(cluster.hosts[name]) else "NOT serving"
        print(f"kill -9 n1 -> group running on {name}: {when - killed:.2f} s ({served} {VIP})")
    if len(takers) != 1:
        print(f"the group was started by {len(takers)} survivors: {[name for name, _ in takers]}")


def scale_run(args: argparse.Namespace, workdir: Path, timing: Timing) -> None:
    """Start the hbtwist cluster, measure it idle, kill the holder."""
    with Lab(workdir / "hbtwist") as lab:
        built = time.monotonic()
        hosts = [lab.add_host(f"n{i}", i) for i in range(1, args.nodes + 1)]
        print(f"lab: {args.nodes} hosts built in {time.monotonic() - built:.1f} s")
        for host in hosts:
            install_marker(lab, host)
        cluster = HbtwistCluster(lab, hosts, timing, args.realtime, HARESOURCES)
        began = cluster.start()
        clusters.wait_all_active(cluster, START_TIMEOUT)
        to_last, to_comm_up, to_active = start_figures(cluster, began)
        print(f"started at once: the last node started {to_last:.2f} s after the first spawn")
        print(f"last node started -> every node active itself (comm up): {to_comm_up:.2f} s")
        print(f"last node started -> every node sees all {args.nodes} active: {to_active:.2f} s")
        cluster.nodes["n1"].wait_event("group_state_changed", GROUP_TIMEOUT, group=GROUP, new="running")
        clusters.wait_startup_over([cluster], timing.keepalive_ms, timing.keepalive_ms / 1000)
        window = idle.measure([cluster], args.window)
        cost = window.costs[0]
        print(
            f"idle CPU per node over {window.seconds:.0f} s: mean {cost.cpu_mean:.2f} %, max "
            f"{cost.cpu_max:.2f} % (machine {window.machine_busy_percent:.0f} % busy of "
            f"{os.cpu_count()} CPUs, {window.clusters_percent:.0f} % of it these nodes)"
        )
        rss = [kib / 1024 for kib in cost.rss_kib.values()]
        print(f"RSS per node: mean {statistics.fmean(rss):.1f} MiB, max {max(rss):.1f} MiB")
        trouble = ", ".join(f"{count} {what}" for what, count in cost.trouble.items() if count)
        print(f"during the window: {trouble or 'no deaths, no late heartbeats'}")
        death(cluster, timing.deadtime_ms / 1000)


def heartbeat_start(workdir: Path, nodes: int, timing: Timing, realtime: bool) -> None:
    """Start `nodes` Heartbeat 3.0.6 daemons at once and print the start figure."""
    with Lab(workdir / "heartbeat") as lab:
        hosts = [lab.add_host(f"n{i}", i) for i in range(1, nodes + 1)]
        cluster = HeartbeatCluster(lab, hosts, timing, realtime)
        try:
            began = cluster.start()
            clusters.wait_all_active(cluster, START_TIMEOUT, interval=clusters.POLL_INTERVAL)
            to_last, to_comm_up, to_active = start_figures(cluster, began)
        finally:
            cluster.close()
    print(
        f"Heartbeat 3.0.6, {nodes} nodes started at once: the last started {to_last:.2f} s after "
        f"the first; from then until every node is active itself: {to_comm_up:.2f} s, until every "
        f"node sees all {nodes} active: {to_active:.2f} s "
        f"(times from its log, read every {clusters.POLL_INTERVAL * 1000:.0f} ms)"
    )


def main() -> int:
    """Run the scale benchmark and print its figures."""
    parser = argparse.ArgumentParser(description="hbtwist at 32 nodes (needs root)")
    parser.add_argument("--nodes", type=int, default=32, help="cluster size (2 for the comparison)")
    parser.add_argument("--deadtime", type=float, default=10.0, help="seconds (keepalive is 1 s)")
    parser.add_argument("--window", type=float, default=30.0, help="idle window, seconds")
    parser.add_argument("--quick", action="store_true", help="an 8 s idle window")
    parser.add_argument("--realtime", action="store_true", help="ha.cf `realtime on` (default off)")
    parser.add_argument(
        "--heartbeat-nodes", type=int, default=8, help="Heartbeat start figure (0: none)"
    )
    args = parser.parse_args()
    if args.quick:
        args.window = 8.0
    if not 2 <= args.nodes <= MAX_NODES:
        parser.error(f"--nodes must be 2..{MAX_NODES} (host addresses stay below the virtual IP)")
    if os.geteuid() != 0:
        print("bench/scale.py needs root (it builds network namespaces)", file=sys.stderr)
        return 2
    clusters.unwind_on_termination()
    deadtime_ms = round(args.deadtime * 1000)
    timing = Timing(
        keepalive_ms=1000, deadtime_ms=deadtime_ms, warntime_ms=deadtime_ms // 2, initdead_s=20
    )
    print(
        f"hbtwist, {args.nodes} nodes; Python {sys.version.split()[0]}; {os.cpu_count()} CPUs; "
        f"keepalive 1 s, deadtime {args.deadtime:g} s, warntime {timing.warntime_ms / 1000:g} s, "
        f"initdead 20 s; ucast eth0 to every peer + bcast eth1; "
        f"realtime {'on' if args.realtime else 'off'}"
    )
    with tempfile.TemporaryDirectory(prefix="hbtwist-scale-", dir="/dev/shm") as workdir:
        scale_run(args, Path(workdir), timing)
        missing = clusters.heartbeat_missing()
        if args.heartbeat_nodes and missing is None:
            heartbeat_start(Path(workdir), args.heartbeat_nodes, timing, args.realtime)
        elif args.heartbeat_nodes:
            print(f"Heartbeat 3.0.6 not measured: {missing}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
