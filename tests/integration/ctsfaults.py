"""CTS's tests that break something under a running cluster (`CTStests.py`): a daemon killed
(DetectionTime), a node reset by the STONITH device (Stonith), an interface taken down
(RedundantpathTest). Each is a function of the cluster and the node it is given, as the tests of
`cts.py`, and leaves every node it touched running again.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING

from hbtwist.core.membership import STARTUP_EXTRA_SECONDS
from tests.integration.ctsnode import LOAD_MARGIN_S
from tests.integration.ctspatterns import (
    FENCE_DONE,
    FENCE_STARTED,
    GROUP_MOVES,
    LINK_STATUS,
    THEY_DEAD,
    THEY_STOPPED,
)
from tests.integration.lab import LabError

if TYPE_CHECKING:
    from tests.integration.cts import CtsCluster

DETECTION_POLL_S = 0.01
"""How often the logs are read while a death is awaited: the resolution of a detection time."""
FENCES = (FENCE_STARTED, FENCE_DONE)
"""What the node that fences a dead node logs, in order."""
BCAST_INTERFACE = "eth1"
"""The interface of LAN B, the `bcast` medium of the CTS lab's ha.cf."""


def detection_time(cluster: CtsCluster, node: str) -> None:
    """Fastdetection (`DetectionTime`): start every stopped node; the node goes standby, so that
    it holds nothing, then its daemon is killed (`kill -9`); the time until a peer logs it dead
    is recorded (`CtsCluster.detection_times`, and a note); then the node is started again. The
    time must be at least the deadtime less a keepalive (no peer declares it dead early) and at
    most the deadtime plus the lab's load margin.

    For its first seconds a node advertises its deadtime plus 2 s, as Heartbeat does (spec 6.4:
    its peers wait what it advertises), so the kill waits until the node's start-up window
    (`STARTUP_EXTRA_SECONDS` from the start of its daemon, which came before the start CTS saw)
    is over: the time measured is that of the configured deadtime."""
    cluster.start([name for name in cluster.order if name not in cluster.up])
    if len(cluster.up) < 2:
        raise LabError(f"DetectionTime needs two nodes up, not {sorted(cluster.up)}")
    cluster.standby(node)
    member = cluster.nodes[node]
    timers = cluster.timers
    start_up_left = cluster.started_at[node] + STARTUP_EXTRA_SECONDS - time.monotonic()
    if start_up_left > 0:
        time.sleep(start_up_left)
    mark = cluster.mark()
    killed = time.monotonic()
    member.crash()
    cluster.lost(node)
    timeout = timers.deadtime_ms / 1000 + LOAD_MARGIN_S
    cluster.look_for_all([THEY_DEAD % node], mark, timeout, f"kill -9 of {node}", DETECTION_POLL_S)
    detected = time.monotonic() - killed
    member.wait_exit(timers.stop_timeout)
    cluster.detection_times.append(detected)
    cluster.notes.append(
        f"failure detection time: {detected * 1000:.0f} ms (deadtime {timers.deadtime_ms} ms)"
    )
    earliest = (timers.deadtime_ms - timers.keepalive_ms) / 1000
    if detected < earliest:
        raise LabError(f"{node} declared dead {detected:.3f} s after its kill, before {earliest} s")
    cluster.start([node])


def stonith(cluster: CtsCluster, node: str) -> None:
    """StonithTest: reset the node with the exerciser's STONITH device (`CtsCluster.power`);
    every other running node logs it dead; if the cluster's nodes have the device too
    (`CtsCluster.fencing`), the taker of each group the node held resets it before taking the
    group over (`Resetting node X with [...]`, `node X now reset.`); then the node boots
    (`ctsstonith.py`: its daemon is started once the peers are done) and logs `Initial resource
    acquisition complete`."""
    if cluster.power is None:
        raise LabError("Stonith needs the exerciser's STONITH device")
    others = sorted(cluster.up - {node})
    held = [group for group in cluster.groups if cluster.expected_holder(group) == node]
    patterns = [THEY_STOPPED % (other, node) for other in others] if node in cluster.up else []
    mark = cluster.mark()
    cluster.power.reset(node)
    cluster.lost(node)
    if cluster.fencing:
        takers = sorted({taker for group in held if (taker := cluster.expected_holder(group))})
        patterns += [pattern % (taker, node) for taker in takers for pattern in FENCES]
    cluster.look_for_all(patterns, mark, cluster.timers.stop_timeout, f"reset of {node}")
    cluster.start([node])


def redundant_path(cluster: CtsCluster, node: str) -> None:
    """RedundantpathTest: with the node running, its LAN B interface (the `bcast` medium) goes
    down, once both ends have reported its LAN B links up since they started (right after a
    start, a link may not have been heard yet). Every other running node reports the node's
    link dead and the node reports theirs; then, for one more deadtime, no node is declared
    dead and no group changes hands, and the audit passes. The interface comes up again and
    every link is reported up."""
    if node not in cluster.up:
        raise LabError(f"RedundantpathTest needs {node} up")
    others = sorted(cluster.up - {node})
    member = cluster.nodes[node]
    timers = cluster.timers
    timeout = timers.deadtime_ms / 1000 + LOAD_MARGIN_S
    since_start = cluster.logged_at_start
    cluster.look_for_all(_links(node, others, "up"), since_start, timeout, f"{node}'s LAN B links")
    mark = cluster.mark()
    member.set_interface(BCAST_INTERFACE, up=False)
    try:
        cluster.look_for_all(_links(node, others, "dead"), mark, timeout, f"{node}'s LAN B down")
        cluster.absent(GROUP_MOVES, mark, timers.deadtime_ms / 1000, f"{node}'s LAN B down")
        problems = cluster.audit()
        if problems:
            raise LabError(f"audit with {node}'s LAN B down: {problems}")
    finally:
        mark = cluster.mark()
        member.set_interface(BCAST_INTERFACE, up=True)
    cluster.look_for_all(_links(node, others, "up"), mark, timeout, f"{node}'s LAN B up")


def _links(node: str, others: list[str], status: str) -> list[str]:
    """The lines of `node`'s LAN B links to `others` reaching `status`, seen from both ends."""
    interface = re.escape(BCAST_INTERFACE)
    return [
        LINK_STATUS % (reporter, peer, interface, status)
        for other in others
        for reporter, peer in ((other, node), (node, other))
    ]
