"""What a node holds, as its `HoldingChanged` events tell it (log lines, metrics), matches the
resource manager once a standby is over, on both sides."""

from __future__ import annotations

from hbtwist.core.events import HoldingChanged
from hbtwist.core.holders import GroupSpec
from tests.simnet import SimNet

STARTUP_WINDOW_S = 6.0
VIP = "IPaddr2::192.0.2.100/24/eth0"
WEB = "apache"


def last_holding(net: SimNet, name: str) -> str | None:
    """The `new` word of the last HoldingChanged event `name` reported."""
    changes = [event for _, event in net.nodes[name].events if isinstance(event, HoldingChanged)]
    return changes[-1].new if changes else None


def test_giver_reports_holding_none_after_standby() -> None:
    """After `hb_standby all` the giver's last HoldingChanged says `none`, not `transition`."""
    net = SimNet(["a", "b"], groups=[GroupSpec(VIP, "a"), GroupSpec(WEB, "b")], auto_failback="on")
    net.start()
    net.run(STARTUP_WINDOW_S)
    assert last_holding(net, "a") == "local"
    assert net.nodes["a"].core.resources.standby.request("all") is None
    net.run(1.0)
    assert net.holders(VIP) == {"b"}
    for name in ("a", "b"):
        assert last_holding(net, name) == net.nodes[name].core.resources.holding()
    assert last_holding(net, "a") == "none"
    assert last_holding(net, "b") == "all"
