"""Two nodes running one group, found after a partition heals: one of them lets go.

During a partition each side may take over the other's groups. When the nodes hear each other
again they exchange `resource` reports; a stable report claiming a group that also runs here is a
conflict. The keeper is the taker of the rule (`holders.taker`) among the two claimants, so both
sides pick the same one; the other stops the group. The keeper keeps serving (a virtual IP is
announced again by its agent's monitor or next start).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from hbtwist.core.groupstate import State
from hbtwist.core.holders import taker

if TYPE_CHECKING:
    from hbtwist.core.failover import ResourceManager


def release_duplicates(m: ResourceManager, sender: str, claims: Iterable[str]) -> None:
    """Stop every group `sender` claims that runs here too, unless this node is the keeper."""
    if not m.stable:
        return
    losing = []
    for key in claims:
        group = m.groups.get(key)
        if group is None or group.state is not State.RUNNING:
            continue
        keeper = taker(group.spec, m.order, {m.local, sender})
        if keeper != m.local:
            m.say("warn", f"Group {key} also runs on {sender}: releasing it here ({keeper} keeps it).")
            losing.append(key)
    if losing:
        m.releases += len(losing)
        m.run_batch("stop", losing, m.report_holdings)
