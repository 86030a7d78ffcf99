"""`ResourceManager`: Heartbeat's release-1 resource management (spec 8.6) as a sans-IO core.

It decides which groups run here; the host starts and stops them (`IFailoverOutput`) and answers
`group_started` / `group_stopped`. The taker rule is in `holders.py`, the standby conversations in
`standby.py`, legacy failback in `legacy.py`, a dead node's fencing and takeover in `fencing.py`."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from twisted.internet.interfaces import IDelayedCall, IReactorTime

from hbtwist.core import rscmsg
from hbtwist.core.connectivity import Connectivity
from hbtwist.core.events import GroupStateChanged, HoldingChanged
from hbtwist.core.fencing import Fencing
from hbtwist.core.groupstate import HELD, Group, Phase, State
from hbtwist.core.holders import GroupSpec, claimed, taker
from hbtwist.core.legacy import LegacyFailback
from hbtwist.core.output import IFailoverOutput
from hbtwist.core.partition import Partitions
from hbtwist.core.snapshot import FailoverSnapshot, GroupSnapshot, ResourceSnapshot
from hbtwist.core.standby import Standby
from hbtwist.wire import Message

REPORT_WAIT_S = 10.0
"""Heartbeat's RQSTDELAY: how long a starting node waits for a peer in transition to settle."""

ALIVE = frozenset({"up", "active"})


class ResourceManager:
    """Decides, from membership and resource messages, which groups run here."""

    def __init__(
        self,
        *,
        local: str,
        nodes: Sequence[str],
        groups: Sequence[GroupSpec],
        auto_failback: str,
        clock: IReactorTime,
        output: IFailoverOutput,
        stonith: str | None = None,
    ) -> None:
        """`stonith` is the STONITH device type this node resets dead nodes with (None: none)."""
        self.local = local
        self.order = tuple(nodes)
        self.auto_failback = auto_failback
        self.clock = clock
        self.out = output
        self.groups = {spec.key: Group(spec) for spec in groups}
        self.alive: set[str] = {local}
        self.phase = Phase.IDLE
        self.takeovers = 0
        self.releases = 0
        self.standby = Standby(self)
        self.legacy = LegacyFailback(self)
        self.fencing = Fencing(self, stonith)
        self.partitions = Partitions(self)
        self.connectivity = Connectivity(self)
        self._awaiting: set[str] = set()
        self._starting_peers: set[str] = set()
        self._wait_timer: IDelayedCall | None = None
        self._holding = "none"
        self._idle_callbacks: list[Callable[[], None]] = []

    @property
    def nice(self) -> bool:
        """Whether `auto_failback` is on or off (nice failback), not legacy."""
        return self.auto_failback != "legacy"

    @property
    def busy(self) -> bool:
        """Whether a group operation is in progress here."""
        return any(group.state in (State.STARTING, State.STOPPING) for group in self.groups.values())

    @property
    def stable(self) -> bool:
        """No resource operation or standby in progress, start-up done."""
        return self.phase is Phase.STABLE and not self.busy and not self.standby.active

    def held(self) -> list[str]:
        """The groups this node holds or may still hold, in haresources order."""
        return [key for key, group in self.groups.items() if group.state in HELD]

    def holding(self) -> str:
        """cl_status `rscstatus`: `transition` while unstable, else Heartbeat's set word."""
        return self.held_word() if self.stable else "transition"

    def held_word(self, keys: Iterable[str] | None = None) -> str:
        """Heartbeat's `rsc_hold` word for what this node holds (or for the groups `keys`)."""
        held = [self.groups[key].spec for key in (self.held() if keys is None else keys)]
        return rscmsg.held_set(
            any(spec.preferred == self.local for spec in held),
            any(spec.preferred != self.local for spec in held),
        )

    def snapshot(
        self, resources_of: Callable[[str], tuple[ResourceSnapshot, ...]] = lambda key: ()
    ) -> FailoverSnapshot:
        """The manager's state now; `resources_of` adds each group's per-resource detail."""
        return FailoverSnapshot(
            rsc_hold=self.holding(),
            stable=self.stable,
            auto_failback=self.auto_failback,
            groups=tuple(
                GroupSnapshot(key, g.spec.preferred, g.holder, str(g.state), resources_of(key))
                for key, g in self.groups.items()
            ),
            standby=self.standby.description(),
            takeovers=self.takeovers,
            releases=self.releases,
        )

    # Membership

    def comm_up(self) -> None:
        """Communication is up: run the start-up protocol of the configured failback mode."""
        if self.phase is not Phase.IDLE:
            return
        self.phase = Phase.STARTING
        self._awaiting = self.alive - {self.local}
        if not self._awaiting:
            self._acquire_initial("T_RESOURCES(us)")
            return
        self._wait_timer = self.clock.callLater(REPORT_WAIT_S, self._waited_too_long)
        if self.nice:
            self.send(rscmsg.starting())
        else:
            self.legacy.request_local_groups()
        self._note_holding()

    def node_status(self, node: str, status: str) -> None:
        """A node's status changed; a death hands its groups to their takers."""
        if node == self.local:
            return
        if status in ALIVE:
            if node not in self.alive:
                self.fencing.node_returned(node)
            self.alive.add(node)
            self.partitions.judge_early(node)
        elif node in self.alive:
            self.alive.discard(node)
            self._node_died(node)
        elif status == "dead":
            self.fencing.never_heard(node)

    # Messages

    def message(self, sender: str, message: Message) -> None:
        """One delivered cluster message from another node."""
        if sender == self.local or sender not in self.order:
            return
        kind = message.text("t")
        if kind == "starting":
            self._starting_peers.add(sender)
            self.report_holdings(answer=True)
        elif kind == "resource":
            self._resource_report(sender, message)
        elif kind == "ask_resources":
            self.standby.on_ask(sender, message)
        elif kind == "hb_takeover":
            self.standby.on_takeover_request(sender, message)
        elif kind == "ip-request":
            self.legacy.on_request(sender, message)
        elif kind == "ip-request-resp":
            self.legacy.on_response(sender, message)

    def report_holdings(self, info: str | None = None, answer: bool = False) -> None:
        """Note what this node holds; send its `resource` report (legacy: only on `starting`)."""
        self._note_holding()
        if not self.nice and not answer:
            return
        stable = self.stable
        word = self.held_word() if self.phase is not Phase.SHUTTING_DOWN else "none"
        self.send(rscmsg.resource_report(word, stable, self.held(), info))

    def _resource_report(self, sender: str, message: Message) -> None:
        if message.text("info") == "mach_down":  # its mach_down script took a dead node's groups
            self.learn_holdings(sender, self.claims(sender, message), full=False)
            return
        self.learn_holdings(sender, self.claims(sender, message))
        stable = message.text("isstable") == "1"
        if stable and self.phase is Phase.STABLE:
            self.partitions.stable_report(sender, self.claims(sender, message))
            self.reconcile()
        just_started = sender in self._starting_peers
        if stable:
            self._starting_peers.discard(sender)
        if self.phase is Phase.STARTING and sender in self._awaiting:
            if stable or (just_started and not self.claims(sender, message)):
                self._awaiting.discard(sender)
                if stable:
                    self.say("info", "remote resource transition completed.")
                self._maybe_acquire_initial()
        elif self.phase is Phase.STABLE and stable and just_started:
            self.standby.on_stable_report(sender)

    def claims(self, sender: str, message: Message) -> frozenset[str]:
        """The groups a `resource` or `ask_resources` message says its sender holds."""
        exact = rscmsg.decode_groups(message, self.groups)
        if exact is not None:
            return exact
        specs = [group.spec for group in self.groups.values()]
        return claimed(specs, sender, message.text("rsc_hold") or "none")

    def learn_holdings(self, sender: str, keys: Iterable[str], full: bool = True) -> None:
        """`sender` holds exactly `keys` (not `full`: these too, unless known held elsewhere)."""
        keys = set(keys)
        for key, group in self.groups.items():
            if group.state in HELD or not (full or group.holder in (None, sender)):
                continue
            if key in keys:
                if group.state is State.FAILED:
                    self._set_state(group, State.STOPPED)
                self.set_holder(group, sender)
            elif full and group.holder == sender:
                self.set_holder(group, None)

    # Start-up

    def start_up_answered(self, node: str) -> None:
        """`node` answered this node's start-up; acquire once every peer has."""
        self._awaiting.discard(node)
        self._maybe_acquire_initial()

    def _maybe_acquire_initial(self) -> None:
        if self.phase is Phase.STARTING and not self._awaiting:
            self._acquire_initial("T_RESOURCES(us)")

    def _waited_too_long(self) -> None:
        self._wait_timer = None
        if self.phase is Phase.STARTING:
            self.say("info", "local resource transition completed.")
            self._acquire_initial("T_RESOURCES(us)")

    def _acquire_initial(self, reason: str) -> None:
        self._cancel_wait()
        self._awaiting.clear()
        targets = self.orphans_for_me()
        if not targets:
            self.say("info", "Local Resource acquisition completed. (none)")

        def acquired() -> None:
            self.phase = Phase.STABLE
            self.say("info", f"Initial resource acquisition complete ({reason})")
            self.report_holdings()
            self._note_holding()
            self.reconcile()

        self.run_batch("start", targets, acquired)

    # Deaths and orphans

    def orphans_for_me(self) -> list[str]:
        """Groups nobody holds or is giving away whose taker is this node."""
        groups = self.groups.items()
        return [key for key, group in groups if group.holder is None and self.would_take(group)]

    def would_take(self, group: Group) -> bool:
        """Whether this node is to start `group` once nobody holds it."""
        return (
            group.giver is None
            and group.state is State.STOPPED
            and taker(group.spec, self.order, self.alive, self.connectivity.outranked()) == self.local
        )

    def reconcile(self) -> None:
        """Take every orphaned group whose taker is this node."""
        if self.phase is not Phase.STABLE:
            return
        targets = self.orphans_for_me()
        if targets:
            self.takeovers += len(targets)
            self.run_batch("start", targets, self.report_holdings)

    def _node_died(self, node: str) -> None:
        self._starting_peers.discard(node)
        self.standby.node_died(node)
        self.legacy.node_died(node)
        self.fencing.node_died(node)
        if self.phase is Phase.STARTING:
            self._awaiting.discard(node)
            self._maybe_acquire_initial()

    def fence_done(self, node: str, result: str) -> None:
        """The host reset `node` (`OK`) or could not (`bad`, `badhost`): see `fencing.py`."""
        self.fencing.fence_done(node, result)

    # Operations carried out by the host

    def run_batch(self, operation: str, keys: Sequence[str], done: Callable[[], None]) -> None:
        """Start or stop the groups `keys` one after another, then call `done`."""
        pending = list(keys)

        def step(_ok: bool = True) -> None:
            if not pending:
                self._note_holding()
                done()
                self._run_idle_callbacks()
                self.standby.failback()
                return
            key = pending.pop(0)
            self._operate(operation, key, step)

        step()

    def _operate(self, operation: str, key: str, then: Callable[[bool], None]) -> None:
        group = self.groups[key]
        wanted = State.STOPPED if operation == "stop" else State.RUNNING
        if group.state is wanted or (operation == "stop" and group.state is State.FAILED):
            then(True)
            return
        group.waiting.append(then)
        if operation == "start":
            self._set_state(group, State.STARTING)
            self.out.start_group(key)
        else:
            self._set_state(group, State.STOPPING)
            self.out.stop_group(key)
        self._note_holding()

    def group_started(self, key: str, ok: bool, failed: str = "") -> None:
        """The host finished starting `key`: all of it runs (`ok`), or it was stopped again."""
        group = self.groups.get(key)
        if group is None or group.state is not State.STARTING:
            return
        if ok:
            self._set_state(group, State.RUNNING)
        else:
            self.say("critical", f"Giving up resources due to failure of {failed or key}")
            self._set_state(group, State.FAILED)
        self._finish(group, ok)
        if not ok and self.phase is Phase.STABLE:
            self.standby.hand_over([key], f"failure of {failed or key}")

    def group_stopped(self, key: str, confirmed: bool) -> None:
        """The host finished stopping `key`; unconfirmed means it may still run here."""
        group = self.groups.get(key)
        if group is None or group.state is not State.STOPPING:
            return
        if confirmed:
            self._set_state(group, State.STOPPED)
        else:
            self.say(
                "critical",
                f"Resource STOP failure for group {key}: it may still run here, so it will not"
                " be started on another node without fencing.",
            )
            self._set_state(group, State.UNCONFIRMED)
        self._finish(group, confirmed)

    def group_failed(self, key: str, reason: str) -> None:
        """Monitoring gave up on `key` here: stop it and hand it to another node."""
        group = self.groups.get(key)
        if group is None or group.state is not State.RUNNING or self.phase is not Phase.STABLE:
            return
        self.say("error", f"Resource group {key} failed here ({reason}); handing it over.")
        self.run_batch("stop", [key], lambda: self.standby.hand_over([key], reason))

    def _finish(self, group: Group, ok: bool) -> None:
        waiting, group.waiting = group.waiting, []
        for then in waiting:
            then(ok)

    # Shutdown

    def shutdown(self, done: Callable[[], None]) -> None:
        """Release every group (right to left, last group first), then call `done`."""
        self.standby.cancel()
        self.fencing.cancel()
        self._cancel_wait()
        if self.phase is Phase.IDLE:
            self.phase = Phase.SHUTTING_DOWN
            done()
            return
        self.phase = Phase.SHUTTING_DOWN
        self.send(rscmsg.resource_report("none", False, (), "shutdown"))
        self.say("info", "Giving up all HA resources.")

        def release() -> None:
            keys = list(reversed(self.held()))
            self.releases += len(keys)

            def released() -> None:
                self.say("info", "All HA resources relinquished.")
                done()

            self.run_batch("stop", keys, released)

        if self.busy:
            self.say("info", "Shutdown delayed until current resource activity finishes.")
            self._idle_callbacks.append(release)
        else:
            release()

    def stop(self) -> None:
        """Cancel every timer; the manager is inert afterwards."""
        self._cancel_wait()
        self.standby.cancel()
        self.fencing.cancel()
        self.connectivity.cancel()

    def after_activity(self, callback: Callable[[], None]) -> None:
        """Call `callback` when the resource activity under way, or else the next, is over."""
        self._idle_callbacks.append(callback)

    def _run_idle_callbacks(self) -> None:
        if self.busy:
            return
        callbacks, self._idle_callbacks = self._idle_callbacks, []
        for callback in callbacks:
            callback()

    def send(self, message: Message) -> None:
        """Send a resource message to the cluster."""
        self.out.send(message)

    def say(self, level: str, text: str) -> None:
        """Log one line in Heartbeat's wording."""
        self.out.say(level, text)

    def _cancel_wait(self) -> None:
        if self._wait_timer is not None and self._wait_timer.active():
            self._wait_timer.cancel()
        self._wait_timer = None

    def _set_state(self, group: Group, state: State) -> None:
        old = group.state
        group.state = state
        if state in HELD:
            group.holder = self.local
        elif group.holder == self.local:
            group.holder = None
        if old is not state:
            self.out.report(GroupStateChanged(group.spec.key, str(old), str(state), group.holder))

    def set_holder(self, group: Group, holder: str | None) -> None:
        if group.holder != holder:
            group.holder = holder
            state = str(group.state)
            self.out.report(GroupStateChanged(group.spec.key, state, state, holder))

    def _note_holding(self) -> None:
        holding = self.holding()
        if holding != self._holding:
            self.out.report(HoldingChanged(self._holding, holding))
            self._holding = holding
