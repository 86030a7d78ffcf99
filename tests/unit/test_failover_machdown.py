"""A Heartbeat peer's `mach_down` report: what its script sends once it took a dead node's groups.

Heartbeat's `mach_down` script sends `resource rsc_hold=foreign info=mach_down` (no `rtype`, no
`isstable`): its sender now holds its foreign groups as well as what it held. Heartbeat logs
`mach_down takeover complete.` only for its own script's message; from a peer it only notes the
holdings.
"""

from __future__ import annotations

from twisted.internet.task import Clock

from hbtwist.core.failover import ResourceManager
from hbtwist.core.holders import GroupSpec
from tests.unit.test_failover_interop import Recorder, heartbeat

OURS = "IPaddr2::192.0.2.101/24/eth0"
THEIRS = "IPaddr2::192.0.2.102/24/eth0"
"""Preferred by tw1 (this node) and by tw2 (a third node)."""


def three_nodes() -> tuple[ResourceManager, Recorder]:
    """tw1 beside the Heartbeat node hb1 and the hbtwist node tw2, each group with its preferred
    node, communication up and every node stable."""
    out = Recorder()
    m = ResourceManager(
        local="tw1",
        nodes=["hb1", "tw1", "tw2"],
        groups=[GroupSpec(OURS, "tw1"), GroupSpec(THEIRS, "tw2")],
        auto_failback="on",
        clock=Clock(),
        output=out,
    )
    for node in ("hb1", "tw2"):
        m.node_status(node, "active")
    m.comm_up()
    m.message("hb1", heartbeat("resource", rsc_hold="none", rtype="full", isstable="1"))
    m.message("tw2", heartbeat("resource", rsc_hold="local", rtype="full", isstable="1"))
    m.group_started(OURS, True)
    return m, out


def mach_down() -> object:
    """What Heartbeat's `mach_down` script sends."""
    return heartbeat("resource", rsc_hold="foreign", info="mach_down")


def test_peer_mach_down_report_names_the_heartbeat_node_as_holder() -> None:
    """tw2 dies; its group's taker by the rule is hb1, so tw1 leaves it; hb1's mach_down report
    then makes tw1 record hb1 as its holder, without claiming a takeover of its own."""
    m, out = three_nodes()
    assert m.groups[THEIRS].holder == "tw2"
    m.node_status("tw2", "dead")
    assert out.started == [OURS]
    assert m.groups[THEIRS].holder is None
    m.message("hb1", mach_down())
    assert m.groups[THEIRS].holder == "hb1"
    assert "mach_down takeover complete." not in out.lines
    assert m.stable and m.holding() == "local"


def test_peer_mach_down_report_leaves_what_runs_here_and_known_holders() -> None:
    """hb1's mach_down report (its `foreign`: every group it does not prefer) neither takes
    tw1's running group from it nor moves a group known to run on tw2; a later full report
    from hb1 replaces it."""
    m, out = three_nodes()
    m.message("hb1", mach_down())
    assert m.groups[OURS].holder == "tw1" and m.groups[OURS].state == "running"
    assert m.groups[THEIRS].holder == "tw2"
    m.message("hb1", heartbeat("resource", rsc_hold="none", rtype="full", isstable="1"))
    assert m.groups[THEIRS].holder == "tw2"
    assert out.stopped == []
