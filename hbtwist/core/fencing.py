"""A dead node's groups are taken over, and fenced first (STONITH) when a device is configured.

Without a STONITH device (spec 8.6): the taker of the dead node's groups warns `No STONITH device
configured.` / `Shared disks are not protected.`, sends `stonith result=n_stnth` and starts them.

With one (`stonith` or `stonith_host` in ha.cf), the groups this node is to take and the dead
node may still run wait for its reset: they stay recorded as held by the dead node, so no path
(a takeover, a reconcile, a standby) starts them. The suspects are the groups it was known to
hold and the ones it prefers that nobody holds; with nice failback only when it held something,
since its reports say what it runs; with legacy failback, which sends no reports, and for a node
never heard from, always. A node that announced its shutdown (`shutdone`) is never fenced.

This node logs `Resetting node X with [type]` and asks the host to reset X (`fence`); the host
answers with the result (`fence_done`). On `OK`: `node X now reset.`, `stonith result=OK` to the
cluster, then the takeover. On `bad` or `badhost`: the result to the cluster, a CRIT line that the
groups are not taken over, and another try 5 s later, as Heartbeat retries. A dead node that comes
back (a restart or a healed partition) ends the tries; the groups are left to it and its reports.

A `stonith` message from another node changes nothing here: Heartbeat 3.0.6 only hands it to its
API clients and rc.d scripts, and hbtwist delivers it to its listeners like any other message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from twisted.internet.interfaces import IDelayedCall

from hbtwist.core import rscmsg
from hbtwist.core.events import FenceResult
from hbtwist.core.groupstate import Group, Phase

if TYPE_CHECKING:
    from hbtwist.core.failover import ResourceManager

RETRY_S = 5.0
"""Heartbeat's wait between a failed reset and the next try."""
RESULTS = frozenset({"OK", "bad", "badhost"})
"""What a reset can answer, as the `stonith` message's `result` says it."""


@dataclass
class _Fence:
    """The reset of one dead node, and the groups waiting for it."""

    node: str
    keys: tuple[str, ...]
    attempt: int = 0
    running: bool = False
    """A reset was asked of the host and has not been answered."""
    timer: IDelayedCall | None = None

    def cancel_timer(self) -> None:
        if self.timer is not None and self.timer.active():
            self.timer.cancel()
        self.timer = None


class Fencing:
    """What follows a node's death: its reset by the STONITH device `device` (None: no device),
    then the takeover of its groups."""

    def __init__(self, manager: ResourceManager, device: str | None) -> None:
        self._m = manager
        self.device = device
        self._fences: dict[str, _Fence] = {}
        self._shut_down: set[str] = set()
        """Nodes that announced their shutdown and have not come back: never fenced."""

    # Membership

    def node_shut_down(self, node: str) -> None:
        """`node` announced its shutdown (`shutdone`): it released its groups itself."""
        self._shut_down.add(node)

    def node_died(self, node: str) -> None:
        """`node` died: fence it first if need be, else take over the groups it held."""
        m = self._m
        lost = [group for group in m.groups.values() if group.holder == node]
        waiting = self._suspects(node, lost) if lost or not m.nice else []
        for group in lost:
            if group not in waiting:
                m.set_holder(group, None)
        if waiting:
            self._fence(node, waiting)
            return
        if m.phase is not Phase.STABLE:
            return
        if not lost:
            m.say("info", f"Dead node {node} gave up resources.")
        targets = m.orphans_for_me()
        if not targets:
            return
        if lost and self.device is None:
            m.say("warn", "No STONITH device configured.")
            m.say("warn", "Shared disks are not protected.")
            m.send(rscmsg.stonith_result(node, "n_stnth"))
        self.take_over(node, targets)

    def never_heard(self, node: str) -> None:
        """`node` was declared dead without ever being up: it may hold any of its groups."""
        waiting = self._suspects(node, [])
        if waiting:
            self._fence(node, waiting)

    def node_returned(self, node: str) -> None:
        """`node` is up again: a reset still being tried ends; its groups are left to it."""
        self._shut_down.discard(node)
        fence = self._fences.pop(node, None)
        if fence is None:
            return
        fence.cancel_timer()
        self._m.say(
            "warn",
            f"Node {node} is back: STONITH of {node} stopped; its resource groups"
            f" ({' '.join(fence.keys)}) are left to it.",
        )

    def _suspects(self, node: str, lost: Sequence[Group]) -> list[Group]:
        """The groups `node` may run that this node is to take, when a device can reset it:
        `lost` (known held), and the groups it prefers that nobody holds."""
        m = self._m
        if self.device is None or node in self._shut_down or m.phase is Phase.SHUTTING_DOWN:
            return []
        preferred = [
            group
            for group in m.groups.values()
            if group.spec.preferred == node and group.holder is None and group not in lost
        ]
        return [group for group in [*lost, *preferred] if m.would_take(group)]

    # The reset

    def _fence(self, node: str, groups: Sequence[Group]) -> None:
        for group in groups:
            self._m.set_holder(group, node)
        self._fences[node] = fence = _Fence(node, tuple(group.spec.key for group in groups))
        self._attempt(fence)

    def _attempt(self, fence: _Fence) -> None:
        fence.timer = None
        fence.attempt += 1
        fence.running = True
        self._m.say("info", f"Resetting node {fence.node} with [{self.device}]")
        self._m.out.fence(fence.node)

    def fence_done(self, node: str, result: str) -> None:
        """The host's answer to `fence(node)`: `OK`, `bad` or `badhost` (anything else: `bad`).
        An answer nobody waits for any more (the node came back, or shutdown) is ignored."""
        m = self._m
        fence = self._fences.get(node)
        if fence is None or not fence.running:
            return
        fence.running = False
        result = result if result in RESULTS else "bad"
        m.out.report(FenceResult(node, str(self.device), result, fence.attempt))
        m.send(rscmsg.stonith_result(node, result))
        if result == "OK":
            del self._fences[node]
            self._release(fence)
            return
        m.say(
            "critical",
            f"STONITH of {node} failed.  Retrying in {RETRY_S:g} s; until {node} is reset its"
            f" resource groups are NOT taken over: {' '.join(fence.keys)}",
        )
        fence.timer = m.clock.callLater(RETRY_S, self._attempt, fence)

    def _release(self, fence: _Fence) -> None:
        """`fence.node` was reset: its groups are orphans; take them now if this node is stable
        (while starting, the initial acquisition takes them)."""
        m = self._m
        for key in fence.keys:
            if m.groups[key].holder == fence.node:
                m.set_holder(m.groups[key], None)
        if m.phase is Phase.STABLE:
            targets = m.orphans_for_me()
            if targets:
                self.take_over(fence.node, targets)

    # The takeover

    def take_over(self, node: str, targets: Sequence[str]) -> None:
        """Start `targets`, the groups of the dead `node` this node takes, as mach_down does."""
        m = self._m
        m.say("info", f"Resources being acquired from {node}.")
        m.takeovers += len(targets)

        def taken() -> None:
            m.say("info", f"mach_down takeover complete for node {node}.")
            if m.nice:
                m.send(rscmsg.mach_down_report())
            m.report_holdings()

        m.run_batch("start", targets, taken)

    def cancel(self) -> None:
        """Stop every reset being tried (shutdown): their answers are ignored."""
        for fence in self._fences.values():
            fence.cancel_timer()
        self._fences.clear()
