"""`auto_failback legacy` (spec 8.6): a starting node asks for each of its groups back.

At start-up the node sends `ip-request ipaddr=<key>` for each group it prefers; every other
node answers `ip-request-resp` (`weown=yes` after releasing the group, `weown=no` when it did not
hold it). Once every alive node has answered every request, the node takes its groups.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hbtwist.core import rscmsg
from hbtwist.core.groupstate import HELD, Phase, State
from hbtwist.wire import Message

if TYPE_CHECKING:
    from hbtwist.core.failover import ResourceManager


class LegacyFailback:
    """Both sides of `ip-request`: asking for local groups back, and giving them back."""

    def __init__(self, manager: ResourceManager) -> None:
        self._m = manager
        self._pending: set[tuple[str, str]] = set()
        """(node, group key) requests not answered yet."""

    def request_local_groups(self) -> None:
        """Ask every alive node for each group this node prefers."""
        m = self._m
        keys = [key for key, group in m.groups.items() if group.spec.preferred == m.local]
        peers = m.alive - {m.local}
        self._pending = {(peer, key) for peer in peers for key in keys}
        for peer in peers:
            if not keys:
                m.start_up_answered(peer)
        for key in keys:
            m.send(rscmsg.ip_request(key))

    def on_request(self, sender: str, message: Message) -> None:
        """`ip-request` from another node: release the group if held here, then answer."""
        m = self._m
        key = message.text("ipaddr") or ""
        group = m.groups.get(key)
        if group is None or group.spec.preferred != sender:
            return
        if group.state not in HELD or m.phase is Phase.SHUTTING_DOWN:
            m.send(rscmsg.ip_request_response(sender, key, False))
            return
        m.releases += 1
        m.run_batch("stop", [key], lambda: m.send(rscmsg.ip_request_response(sender, key, True)))

    def on_response(self, sender: str, message: Message) -> None:
        """`ip-request-resp`: the sender no longer holds the group; take it once all answered."""
        m = self._m
        key = message.text("ipaddr") or ""
        group = m.groups.get(key)
        if group is None or group.spec.preferred != m.local:
            return
        if group.holder == sender:
            m.set_holder(group, None)
        if m.phase is Phase.STARTING:
            self._pending.discard((sender, key))
            if not any(node == sender for node, _ in self._pending):
                m.start_up_answered(sender)
        elif m.phase is Phase.STABLE and group.state is State.STOPPED:
            m.run_batch("start", [key], lambda: None)

    def node_died(self, node: str) -> None:
        """A dead node answers nothing: stop waiting for it."""
        self._pending = {(peer, key) for peer, key in self._pending if peer != node}
