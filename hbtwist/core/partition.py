"""A healed partition: both sides may have taken over the other's groups; one of them lets go.

During a partition each side may take over the other's groups. When the nodes hear each other
again (`Cluster node X returning after partition.`) each reports what it holds; a stable report
claiming a group that also runs here is a conflict. The keeper is the taker of the rule
(`holders.taker`) among the two claimants, so both sides pick the same one; the other stops the
group. The keeper keeps serving (a virtual IP is announced again by its agent's monitor or next
start). Nothing restarts: Heartbeat 3.0.6 restarts itself instead, and the Cluster Test Suite
waits for each node's `Initial resource acquisition complete` after the partition, so that line
ends the resolution with a returning node here too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING

from hbtwist.core.groupstate import HELD, State
from hbtwist.core.holders import taker

if TYPE_CHECKING:
    from hbtwist.core.failover import ResourceManager


class Partitions:
    """The nodes back from a partition whose first stable report is awaited, and the groups
    this node keeps that another node has still to release. A node that keeps a group says so
    at once: the other side may have seen a partition this node never saw (this node stalled,
    or lost only one direction), and waits for that report to let go."""

    def __init__(self, manager: ResourceManager) -> None:
        self._m = manager
        self.returning: set[str] = set()
        self._deferred: dict[str, frozenset[str]] = {}
        """Stable reports that came while this node was busy, or from a node still taken for
        dead: judged once this node is idle and the sender alive."""
        self._waiting = False
        self._kept: set[tuple[str, str]] = set()
        """(node, group) this node keeps while that node still runs the group too."""

    def healed(self, node: str) -> None:
        """`node` is back from a partition: report what this node holds, then resolve."""
        m = self._m
        m.report_holdings()
        if not m.nice:
            self._resolved(node)
            return
        self.returning.add(node)

    def judge_early(self, node: str) -> None:
        """`node` is alive again: judge the stable report it sent before this node knew."""
        early = self._deferred.pop(node, None)
        if early is not None:
            self.stable_report(node, early)

    def stable_report(self, sender: str, claims: Iterable[str]) -> None:
        """A stable `resource` report from `sender`: release the groups it keeps that run here
        too, and end the resolution if it came back from a partition. While this node is busy
        the report waits for the end of what is under way."""
        claims = frozenset(claims)
        if sender not in self._m.alive or not self._m.stable:
            self._defer(sender, claims)
            return
        self._note_released(sender, claims)
        then = None
        if sender in self.returning:
            self.returning.discard(sender)
            then = partial(self._resolved, sender)
        self._release_duplicates(sender, claims, then)

    def _defer(self, sender: str, claims: frozenset[str]) -> None:
        self._deferred[sender] = claims
        if not self._m.stable and not self._waiting:
            self._waiting = True
            self._m.after_activity(self._judge_deferred)

    def _judge_deferred(self) -> None:
        self._waiting = False
        deferred, self._deferred = self._deferred, {}
        for sender, claims in deferred.items():
            self.stable_report(sender, claims)

    def _note_released(self, sender: str, claims: frozenset[str]) -> None:
        """Once `sender` no longer claims a group this node kept, say again what this node
        holds: nodes that heard both claims learn who kept it."""
        released = {(node, key) for node, key in self._kept if node == sender and key not in claims}
        if released:
            self._kept -= released
            self._m.report_holdings()

    def _resolved(self, node: str) -> None:
        self._m.say("info", f"Initial resource acquisition complete (after the partition from {node}).")

    def _release_duplicates(
        self, sender: str, claims: Iterable[str], then: Callable[[], None] | None
    ) -> None:
        """Stop every group `sender` claims that runs here too, unless this node is the
        keeper; then call `then`."""
        m = self._m
        losing = []
        keeping = False
        for key in claims:
            group = m.groups.get(key)
            if group is None or group.state is not State.RUNNING:
                continue
            keeper = taker(group.spec, m.order, {m.local, sender})
            if keeper == m.local:
                keeping = True
                self._kept.add((sender, key))
            else:
                m.say(
                    "warn", f"Group {key} also runs on {sender}: releasing it here ({keeper} keeps it)."
                )
                losing.append(key)
        if keeping:
            m.report_holdings()
        if not losing:
            if then is not None:
                then()
            return
        m.releases += len(losing)

        def released() -> None:
            for key in losing:
                if sender in m.alive and m.groups[key].state not in HELD:
                    m.set_holder(m.groups[key], sender)
            m.report_holdings()
            if then is not None:
                then()

        m.run_batch("stop", losing, released)
