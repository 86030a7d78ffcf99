"""`auto_failback on` with several nodes returning at once: each gets its own groups back, one
standby after the other, however their stable reports and the holder's standbys interleave."""

from __future__ import annotations

from hbtwist.core.holders import GroupSpec
from tests.simnet import SimNet

STARTUP_WINDOW_S = 6.0
GROUPS = [GroupSpec(f"IPaddr2::192.0.2.10{i}/24/eth0", name) for i, name in enumerate("abc", 1)]


def test_two_preferred_nodes_returning_together_both_get_their_groups() -> None:
    """a holds every group alone; b and c start together: b and c each end up with their own."""
    net = SimNet(["a", "b", "c"], groups=GROUPS, auto_failback="on")
    net.start()
    net.run(STARTUP_WINDOW_S)
    for name in "bc":
        net.stop_gracefully(name)
    net.run(2.0)
    assert all(net.holders(group.key) == {"a"} for group in GROUPS)
    for name in "bc":
        net.restart(name)
    net.run(STARTUP_WINDOW_S)
    assert {group.key: net.holders(group.key) for group in GROUPS} == {
        group.key: {group.preferred} for group in GROUPS
    }
    assert net.peak <= 1
    assert net.nodes["a"].core.resources.stable
