"""A three-node hbtwist cluster in network namespaces: membership, link and node failures."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

from tests.integration.threenode import DEADTIME_MS, KEEPALIVE_MS, Cluster

Report = Callable[[str], None]

SCHEDULING_MARGIN = 0.3
DETECTION_LIMIT = (DEADTIME_MS + KEEPALIVE_MS) / 1000 + SCHEDULING_MARGIN
"""A dead link or node must be reported within deadtime + one keepalive of the cut (+ margin)."""
SERIAL_REOPEN_LIMIT = 8.0
"""The serial medium reopens with back-off (1 s, 2 s, ...): ~5 s, plus margin."""


def _figures(report: Report, what: str, figures: dict[str, float]) -> None:
    report(
        what + ": " + ", ".join(f"{label} {seconds * 1000:.0f} ms" for label, seconds in figures.items())
    )


def _status_changes(cluster: Cluster, since: float) -> list[tuple[str, dict]]:
    """(observer, event) for every change of a node's status logged at or after `since`."""
    return [
        (name, event)
        for name, node in cluster.nodes.items()
        for event in node.events("node_status_changed")
        if event["time"] >= since
    ]


def test_three_nodes_all_active_all_links_up(cluster: Cluster) -> None:
    """Three nodes on ucast (LAN A), bcast (LAN B) and serial (n1-n2) all see each other active
    over every link, with comm-up on each and no node ever reported dead."""
    for name, node in cluster.nodes.items():
        view = node.view()
        assert cluster.all_up(name, view), f"{name}: {view}"
        assert len(node.events("comm_up")) == 1
        assert not node.events("node_status_changed", new="dead"), node.tail()
        # n3 has no serial line; nobody reports one to or from it.
        assert not [
            key for key in view.links if key[1] not in ("eth0", "eth1") and "n3" in (name, key[0])
        ]


def test_lan_b_cut_reported_within_deadtime(cluster: Cluster, report: Report) -> None:
    """Unplugging n3 from LAN B makes both sides report the eth1 links dead within deadtime plus
    one keepalive while n3 stays active everywhere; plugging it back reports them up again."""
    lab, nodes, n3 = cluster.lab, cluster.nodes, cluster.hosts["n3"]
    pairs = [("n1", "n3"), ("n2", "n3"), ("n3", "n1"), ("n3", "n2")]

    cut = lab.cut(n3, "b")
    detected = {}
    for observer, peer in pairs:
        event = nodes[observer].wait_event(
            "link_status_changed", timeout=5.0, since=cut, node=peer, link="eth1", new="dead"
        )
        detected[f"{observer} sees {peer}:eth1 dead"] = event["time"] - cut
    time.sleep(1.0)  # stay cut a while: nothing else may change
    _figures(report, f"LAN B cut detection (limit {DETECTION_LIMIT * 1000:.0f} ms)", detected)
    for label, seconds in detected.items():
        assert 0 < seconds <= DETECTION_LIMIT, f"{label} after {seconds:.3f} s"
    assert _status_changes(cluster, cut) == [], "a node status changed during the LAN B cut"
    for name, node in nodes.items():
        view = node.view()
        assert all(view.node(other) == "active" for other in cluster.hosts), f"{name}: {view}"
        assert all(view.link(peer, "eth0") == "up" for peer in cluster.hosts if peer != name)

    heal = lab.heal(n3, "b")
    healed = {}
    for observer, peer in pairs:
        event = nodes[observer].wait_event(
            "link_status_changed", timeout=5.0, since=heal, node=peer, link="eth1", new="up"
        )
        healed[f"{observer} sees {peer}:eth1 up"] = event["time"] - heal
    _figures(report, "LAN B heal", healed)
    cluster.wait_all_up(timeout=5.0)
    assert _status_changes(cluster, cut) == []


def test_serial_cut_and_reconnect(cluster: Cluster, report: Report) -> None:
    """Killing the socat joining n1 and n2 (a pulled serial cable) reports the serial link, named
    by the tty path, dead on both; a new socat brings the link back up once the port reopens."""
    lab, nodes, hosts, ttys = cluster.lab, cluster.nodes, cluster.hosts, cluster.ttys
    pairs = [("n1", "n2"), ("n2", "n1")]

    cut = lab.cut_serial(hosts["n1"], hosts["n2"])
    detected = {}
    for observer, peer in pairs:
        event = nodes[observer].wait_event(
            "link_status_changed", timeout=5.0, since=cut, node=peer, link=ttys[observer], new="dead"
        )
        detected[f"{observer} sees {peer}:tty dead"] = event["time"] - cut
    _figures(report, f"serial cut detection (limit {DETECTION_LIMIT * 1000:.0f} ms)", detected)
    for label, seconds in detected.items():
        assert 0 < seconds <= DETECTION_LIMIT, f"{label} after {seconds:.3f} s"

    heal = lab.heal_serial(hosts["n1"], hosts["n2"])
    healed = {}
    for observer, peer in pairs:
        event = nodes[observer].wait_event(
            "link_status_changed",
            timeout=SERIAL_REOPEN_LIMIT,
            since=heal,
            node=peer,
            link=ttys[observer],
            new="up",
        )
        healed[f"{observer} sees {peer}:tty up"] = event["time"] - heal
    _figures(report, "serial reconnect", healed)
    cluster.wait_all_up(timeout=5.0)
    assert _status_changes(cluster, cut) == [], "a node status changed during the serial cut"


def test_isolated_node_declared_dead_then_back(cluster: Cluster, report: Report) -> None:
    """Cutting both of n3's LAN links makes n1 and n2 declare n3 dead (and n3 them) within
    deadtime plus one keepalive; reconnecting brings every node back to active everywhere."""
    lab, nodes, n3 = cluster.lab, cluster.nodes, cluster.hosts["n3"]
    pairs = [("n1", "n3"), ("n2", "n3"), ("n3", "n1"), ("n3", "n2")]

    cut = lab.cut(n3, "a")
    lab.cut(n3, "b")
    detected = {}
    for observer, peer in pairs:
        event = nodes[observer].wait_event(
            "node_status_changed", timeout=5.0, since=cut, node=peer, new="dead"
        )
        detected[f"{observer} sees {peer} dead"] = event["time"] - cut
    _figures(report, f"isolation detection (limit {DETECTION_LIMIT * 1000:.0f} ms)", detected)
    for label, seconds in detected.items():
        assert 0 < seconds <= DETECTION_LIMIT, f"{label} after {seconds:.3f} s"
    for name in ("n1", "n2"):  # n1 and n2 still see each other
        assert nodes[name].view().node("n2" if name == "n1" else "n1") == "active"

    heal = lab.heal(n3, "a")
    lab.heal(n3, "b")
    back = {}
    for observer, peer in pairs:
        event = nodes[observer].wait_event(
            "node_status_changed", timeout=5.0, since=heal, node=peer, new="active"
        )
        back[f"{observer} sees {peer} active"] = event["time"] - heal
    _figures(report, "isolation healed", back)
    cluster.wait_all_up(timeout=5.0)


def test_killed_node_restarts_with_new_generation(cluster: Cluster, report: Report) -> None:
    """kill -9 of n2 makes n1 and n3 report it dead; restarting it (same state directory) is seen
    as a restart with a higher generation, after which n2 is active everywhere again."""
    lab, nodes = cluster.lab, cluster.nodes
    old = nodes["n2"]
    generation = nodes["n1"].view().generations["n2"]
    assert nodes["n3"].view().generations["n2"] == generation

    killed = time.time()
    old.kill(signal.SIGKILL)
    assert old.wait() == -signal.SIGKILL
    deaths = {}
    for observer in ("n1", "n3"):
        deaths[observer] = nodes[observer].wait_event(
            "node_status_changed", timeout=5.0, since=killed, node="n2", new="dead"
        )
    _figures(
        report,
        "kill -9 detection",
        {f"{o} sees n2 dead": e["time"] - killed for o, e in deaths.items()},
    )
    for observer, event in deaths.items():
        assert event["time"] - killed <= DETECTION_LIMIT, f"{observer}: {event}"

    restarted_at = time.time()
    new = lab.restart(old)
    nodes["n2"] = new
    for observer in ("n1", "n3"):
        node = nodes[observer]
        restart = node.wait_event("node_restarted", timeout=10.0, since=killed, node="n2")
        assert restart["old_generation"] == generation
        assert restart["new_generation"] > generation
        active = node.wait_event(
            "node_status_changed", timeout=10.0, since=restart["time"], node="n2", new="active"
        )
        assert deaths[observer]["time"] <= restart["time"] <= active["time"]
        assert node.view().generations["n2"] == restart["new_generation"]
        report(
            f"{observer}: n2 generation {generation} -> {restart['new_generation']}, "
            f"active {active['time'] - restarted_at:.2f} s after the restart command"
        )
    new.wait_for(lambda view: cluster.all_up("n2", view), timeout=10.0, what="n2 sees all up")
    cluster.wait_all_up(timeout=5.0)


def test_graceful_shutdown_reported_at_once(cluster: Cluster, report: Report) -> None:
    """SIGTERM on n3 stops it cleanly and n1 and n2 get its shutdown notice and mark it
    dead at once, without waiting deadtime."""
    nodes = cluster.nodes
    stopped = time.time()
    nodes["n3"].kill(signal.SIGTERM)
    # twistd stops its reactor on SIGTERM, then exits by that same signal.
    assert nodes["n3"].wait() in (0, -signal.SIGTERM), nodes["n3"].tail()
    assert [r for r in nodes["n3"].records() if "shutdown complete" in r.get("text", "")], nodes[
        "n3"
    ].tail()
    notices = {}
    for observer in ("n1", "n2"):
        node = nodes[observer]
        notice = node.wait_event("shutdown_notice", timeout=5.0, since=stopped, node="n3")
        dead = node.wait_event("node_status_changed", timeout=5.0, since=stopped, node="n3", new="dead")
        assert notice["time"] <= dead["time"] < stopped + DEADTIME_MS / 1000, node.tail()
        notices[observer] = notice["time"] - stopped
    _figures(report, "shutdown notice after SIGTERM", notices)
    time.sleep(2 * KEEPALIVE_MS / 1000)  # let every medium's copy arrive
    repeated = {name: len(nodes[name].events("shutdown_notice", node="n3")) for name in ("n1", "n2")}
    assert repeated == {"n1": 1, "n2": 1}
