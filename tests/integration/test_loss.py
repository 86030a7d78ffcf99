"""A three-node hbtwist cluster under 20 % random packet loss for two minutes."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

import pytest

from tests.integration.threenode import Cluster

Report = Callable[[str], None]

LOSS_PERCENT = 20
DURATION_SECONDS = 120.0


@pytest.mark.timeout(DURATION_SECONDS + 120)
def test_no_false_death_under_twenty_percent_loss(cluster: Cluster, report: Report) -> None:
    """With 20 % of every host's incoming packets dropped for 120 s, no node is ever reported
    dead by any node (late-heartbeat warnings are allowed and counted)."""
    lab, nodes = cluster.lab, cluster.nodes
    for host in cluster.hosts.values():
        lab.set_loss(host, LOSS_PERCENT)
    started = time.monotonic()
    wall_start = time.time()
    while (elapsed := time.monotonic() - started) < DURATION_SECONDS:
        time.sleep(min(5.0, DURATION_SECONDS - elapsed))
        for node in nodes.values():
            assert node.running, node.tail()
    duration = time.monotonic() - started
    counters = {name: lab.loss_counters(host) for name, host in cluster.hosts.items()}
    for host in cluster.hosts.values():
        lab.set_loss(host, 0)

    report(f"ran {duration:.1f} s under {LOSS_PERCENT} % loss")
    for name, (seen, dropped) in counters.items():
        report(
            f"{name}: dropped {dropped} of {seen} packets received"
            f" ({100 * dropped / max(seen, 1):.1f} %)"
        )
    late: Counter[str] = Counter()
    for name, node in nodes.items():
        for event in node.events("late_heartbeat"):
            late[f"{name} from {event['node']}{' (critical)' if event['critical'] else ''}"] += 1
    report(f"late-heartbeat warnings: {sum(late.values())} {dict(sorted(late.items()))}")
    link_deaths = Counter(
        f"{name} {e['node']}:{e['link']}"
        for name, node in nodes.items()
        for e in node.events("link_status_changed", new="dead")
        if e["time"] >= wall_start
    )
    report(f"link-dead reports: {sum(link_deaths.values())} {dict(sorted(link_deaths.items()))}")
    stalls = {name: len(node.events("local_stall")) for name, node in nodes.items()}
    report(f"local stalls: {stalls}")

    assert duration >= DURATION_SECONDS
    for name, (seen, dropped) in counters.items():
        assert seen > 0 and 0.1 < dropped / seen < 0.3, f"{name}: loss not applied ({dropped}/{seen})"
    deaths = [
        (name, event)
        for name, node in nodes.items()
        for event in node.events("node_status_changed")
        if event["new"] == "dead"
    ]
    assert deaths == [], f"nodes reported dead under loss: {deaths}"
    for name, node in nodes.items():
        view = node.view()
        assert all(view.node(other) == "active" for other in cluster.hosts), f"{name}: {view}"
