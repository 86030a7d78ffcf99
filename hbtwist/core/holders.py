"""Who should hold a group: the one rule every hbtwist node computes alike (doc/failover.md).

The taker of a group is its preferred node when that node is alive and not excluded; otherwise
the first alive, not excluded node after the preferred node in ha.cf's `node` order, wrapping
around. Every node applies the rule to the same membership, so exactly one node takes a group
that nobody holds, in a cluster of any size.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class GroupSpec:
    """One resource group as the resource manager needs it: its key and preferred node."""

    key: str
    preferred: str


def taker(
    group: GroupSpec, order: Sequence[str], alive: Collection[str], exclude: Collection[str] = ()
) -> str | None:
    """The node that should take `group` (None when no node qualifies)."""
    if group.preferred in order:
        start = order.index(group.preferred)
        rotation = [*order[start:], *order[:start]]
    else:
        rotation = [group.preferred, *order]
    for node in rotation:
        if node in alive and node not in exclude:
            return node
    return None


def successor(node: str, order: Sequence[str], alive: Collection[str]) -> str | None:
    """The first alive node after `node` in `order` (wrapping): who answers its standby."""
    if node not in order:
        return next((other for other in order if other in alive), None)
    start = order.index(node)
    for other in [*order[start + 1 :], *order[:start]]:
        if other in alive:
            return other
    return None


def in_set(group: GroupSpec, node: str, which: str) -> bool:
    """Whether `group` belongs to `node`'s resource set `which` (`failback` is `foreign`)."""
    if which == "all":
        return True
    if which == "local":
        return group.preferred == node
    if which in ("foreign", "failback"):
        return group.preferred != node
    return False


def claimed(groups: Iterable[GroupSpec], node: str, holding: str) -> frozenset[str]:
    """The groups a Heartbeat node's `rsc_hold` word claims (it cannot name them one by one)."""
    return frozenset(group.key for group in groups if holding != "none" and in_set(group, node, holding))


def mirrored(which: str) -> str:
    """`hb_takeover`'s set as its receivers give it away: local and foreign swap sides."""
    return {"local": "foreign", "foreign": "local", "failback": "local"}.get(which, which)
