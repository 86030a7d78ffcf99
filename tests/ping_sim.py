"""A simulated ping node for SimNet clusters: it answers each node's echo while reachable."""

from __future__ import annotations

from hbtwist.wire import Message
from tests.simnet import SimNet


def echo_reply(ping: str, info: str = "ping") -> Message:
    """The authenticated payload of an echo reply of ping node `ping`, as the medium hands it on."""
    return Message.of(("t", "NS_st"), ("st", "ping"), ("info", info), ("src", ping), ("ts", "1"))


class PingHost:
    """Ping node `name`: every keepalive, each running node it can reach gets its reply."""

    def __init__(self, net: SimNet, name: str) -> None:
        self.net = net
        self.name = name
        self.unreachable: set[str] = set()
        """The nodes whose echo requests get no reply (their uplink is cut)."""
        self._period = net.timing.keepalive_ms / 1000.0
        net.clock.callLater(self._period, self._answer)

    def _answer(self) -> None:
        for name, node in self.net.nodes.items():
            if node.running and name not in self.unreachable:
                node.core.receive(echo_reply(self.name), self.name)
        self.net.clock.callLater(self._period, self._answer)
