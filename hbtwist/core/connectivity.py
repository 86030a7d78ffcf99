"""Ping-node connectivity moves resource groups, as Heartbeat's ipfail did (doc/failover.md).

Every hbtwist node with ping nodes says in each status how many it reaches (`hbtwist_pings`, a
ping_group counting as one). A count is *settled* once it has held for the hold-off (`deadping`),
so a flapping ping moves nothing. Among the alive nodes with settled counts, a node reaching fewer
ping nodes than another is *outranked*: it takes no group while that node is alive, and gives the
groups it holds to the best-connected node, through a standby naming that node. Nodes that say
nothing (Heartbeat nodes, nodes without ping nodes) and equal counts leave the rules unchanged.

`PingCounts` is the pure bookkeeping (the time is passed in); `Connectivity` applies it to the
resource manager on the manager's clock.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING

from twisted.internet.interfaces import IDelayedCall

from hbtwist.core import rscmsg

if TYPE_CHECKING:
    from hbtwist.core.failover import ResourceManager

MIN_REVIEW_S = 1.0
"""While this node is outranked and holds groups, it looks again at least this often."""


@dataclass(frozen=True)
class _Count:
    value: int
    since: float


class PingCounts:
    """How many ping nodes each node reaches, and since when: the settled counts decide."""

    def __init__(self, hold_off_s: float = 0.0) -> None:
        self.hold_off_s = hold_off_s
        self._counts: dict[str, _Count] = {}

    def observe(self, node: str, count: int | None, now: float) -> None:
        """`node` reaches `count` ping nodes from `now` on (None: unknown, it does not say)."""
        if count is None:
            self._counts.pop(node, None)
        elif node not in self._counts or self._counts[node].value != count:
            self._counts[node] = _Count(count, now)

    def settled(self, node: str, now: float) -> int | None:
        """`node`'s count if it has held for the hold-off, else None."""
        count = self._counts.get(node)
        if count is None or now - count.since < self.hold_off_s:
            return None
        return count.value

    def settles_in(self, node: str, now: float) -> float | None:
        """Seconds until `node`'s count settles (0 when it is settled; None: no count)."""
        count = self._counts.get(node)
        return None if count is None else max(0.0, count.since + self.hold_off_s - now)

    def outranked(self, nodes: Collection[str], now: float) -> frozenset[str]:
        """The nodes among `nodes` whose settled count is below another's settled count."""
        counts = self._settled(nodes, now)
        best = max(counts.values(), default=0)
        return frozenset(node for node, count in counts.items() if count < best)

    def best(self, nodes: Collection[str], now: float, order: Collection[str]) -> str | None:
        """The node of `nodes` with the highest settled count (the first in `order` of those)."""
        counts = self._settled(nodes, now)
        if not counts:
            return None
        top = max(counts.values())
        return next((node for node in order if counts.get(node) == top), None)

    def _settled(self, nodes: Collection[str], now: float) -> dict[str, int]:
        counts = {node: self.settled(node, now) for node in nodes}
        return {node: count for node, count in counts.items() if count is not None}


class Connectivity:
    """The resource manager's side: who is outranked now, and giving groups away when it is
    this node."""

    def __init__(self, manager: ResourceManager) -> None:
        self._m = manager
        self.counts = PingCounts()
        self._timer: IDelayedCall | None = None

    @property
    def hold_off_s(self) -> float:
        """How long a count must hold before it counts (`deadping`)."""
        return self.counts.hold_off_s

    @hold_off_s.setter
    def hold_off_s(self, seconds: float) -> None:
        self.counts.hold_off_s = seconds

    def observe(self, node: str, count: int | None) -> None:
        """`node` (this node or a peer) now reaches `count` ping nodes; look again once every
        count known has settled."""
        m = self._m
        now = m.clock.seconds()
        self.counts.observe(node, count, now)
        wait = self.counts.settles_in(node, now)
        if wait is not None:
            self._review_in(wait)

    def outranked(self) -> frozenset[str]:
        """The alive nodes, this one included, that reach fewer ping nodes than another."""
        m = self._m
        return self.counts.outranked(m.alive, m.clock.seconds())

    def review(self) -> None:
        """Give the groups held here to the best-connected node when this node is outranked."""
        self._timer = None
        m = self._m
        held = m.held()
        if m.local not in self.outranked() or not held or not m.nice:
            return
        self._review_in(max(MIN_REVIEW_S, self.hold_off_s))
        if not m.stable:
            return
        now = m.clock.seconds()
        target = self.counts.best(m.alive - {m.local}, now, m.order)
        if target is None:
            return
        mine, theirs = self.counts.settled(m.local, now), self.counts.settled(target, now)
        m.say(
            "warn",
            f"{m.local} reaches {mine} ping node(s), {target} reaches {theirs}: giving"
            f" {' '.join(held)} to {target}.",
        )
        specs = [m.groups[key].spec for key in held]
        which = rscmsg.held_set(
            any(spec.preferred == m.local for spec in specs),
            any(spec.preferred != m.local for spec in specs),
        )
        m.standby.give(which, held, target)

    def cancel(self) -> None:
        """Stop looking again."""
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def _review_in(self, seconds: float) -> None:
        if self._timer is not None and self._timer.active():
            if self._timer.getTime() <= self._m.clock.seconds() + seconds:
                return
            self._timer.cancel()
        self._timer = self._m.clock.callLater(seconds, self.review)
