"""A simulated cluster: node cores on a task.Clock joined by lossy, cuttable in-memory media."""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from twisted.internet.base import DelayedCall
from twisted.internet.interfaces import IReactorTime
from zope.interface import implementer

from hbtwist.core import events
from hbtwist.core.holders import GroupSpec
from hbtwist.core.node import NodeCore
from hbtwist.core.output import ICoreOutput, IGroupActions
from hbtwist.core.stamp import Identity, Stamper
from hbtwist.core.timing import Timing
from hbtwist.wire import AuthKey, AuthMethod, Keyring, Message, decode_datagram, encode_datagram

KEYRING = Keyring(1, {1: AuthKey(1, AuthMethod.SHA1, b"simulated-cluster-key")})
START_TIME = 1_700_000_000.0
FAST = Timing(keepalive_ms=100, deadtime_ms=500, warntime_ms=250, initdead_ms=1000)


@implementer(IReactorTime)
class HeapClock:
    """task.Clock's interface on a heap, so big simulations don't re-sort every timer list."""

    def __init__(self) -> None:
        self.rightNow = 0.0
        self._heap: list[tuple[float, int, DelayedCall]] = []
        self._order = itertools.count()

    def seconds(self) -> float:
        return self.rightNow

    def callLater(
        self, delay: float, callable: Callable[..., object], *args: object, **kw: object
    ) -> DelayedCall:  # noqa: N802
        call = DelayedCall(
            self.rightNow + delay,
            callable,
            args,
            kw,
            lambda call: None,
            self._push,
            seconds=self.seconds,
        )
        self._push(call)
        return call

    def _push(self, call: DelayedCall) -> None:
        heapq.heappush(self._heap, (call.time, next(self._order), call))

    def advance(self, amount: float) -> None:
        """Move time on and run every call that became due, in time order."""
        self.rightNow += amount
        while self._heap and self._heap[0][0] <= self.rightNow:
            due, _, call = heapq.heappop(self._heap)
            if call.cancelled or call.called or due != call.time:
                continue
            if call.delayed_time:
                call.activate_delay()
                self._push(call)
                continue
            call.called = 1
            call.func(*call.args, **call.kw)

    def getDelayedCalls(self) -> list[DelayedCall]:  # noqa: N802
        """Calls still pending."""
        return [c for due, _, c in self._heap if not (c.cancelled or c.called) and due == c.time]


@implementer(ICoreOutput)
class SimOutput:
    """A simulated node's output: packets onto the simulated media, events and messages to sinks."""

    def __init__(self, transmit: Callable[[Message], None]) -> None:
        self.transmit = transmit
        self.event_sinks: list[Callable[[events.Event], None]] = []
        self.message_sinks: list[Callable[[str, Message], None]] = []

    def deliver(self, sender: str, message: Message) -> None:
        for sink in list(self.message_sinks):
            sink(sender, message)

    def report(self, event: events.Event) -> None:
        for sink in list(self.event_sinks):
            sink(event)

    def transmit_to(self, message: Message, node: str) -> None:
        """The simulated media reach every node: a message for one node goes everywhere."""
        self.transmit(message)

    def rejected(self, reason: str, total: int, link: str, source: object, detail: str) -> None:
        """Drops are counted by the core; the simulation logs nothing."""

    def heard_from(self, node: str, source: object) -> None:
        """The simulated media have no unicast links to learn."""


@implementer(IGroupActions)
class SimGroups:
    """A simulated node's resource groups: each start or stop takes `delay` seconds of the clock.

    `world` maps each group key to the nodes running it now, across the whole simulation, so a
    test can check that no group ever runs twice.
    """

    def __init__(self, name: str, net: SimNet, delay: float) -> None:
        self.name = name
        self.net = net
        self.delay = delay
        self.failing_starts: set[str] = set()
        self.failing_stops: set[str] = set()
        self.log: list[tuple[float, str, str]] = []
        self.pending: list[DelayedCall] = []
        self.core: NodeCore | None = None

    def start_group(self, key: str) -> None:
        self.pending.append(self.net.clock.callLater(self.delay, self._started, key))

    def stop_group(self, key: str) -> None:
        self.pending.append(self.net.clock.callLater(self.delay, self._stopped, key))

    def _started(self, key: str) -> None:
        assert self.core is not None
        ok = key not in self.failing_starts
        if ok:
            self.net.world.setdefault(key, set()).add(self.name)
            self.net.peak = max(self.net.peak, len(self.net.world[key]))
        self.core.resources.group_started(key, ok, key)

    def _stopped(self, key: str) -> None:
        assert self.core is not None
        confirmed = key not in self.failing_stops
        if confirmed:
            self.net.world.get(key, set()).discard(self.name)
        self.core.resources.group_stopped(key, confirmed)

    def say(self, level: str, text: str) -> None:
        self.log.append((self.net.clock.seconds(), level, text))

    def said(self, text: str) -> bool:
        """Whether a logged line contains `text`."""
        return any(text in line for _, _, line in self.log)

    def die(self) -> None:
        """The machine is gone: nothing it ran runs any more, nothing it started finishes."""
        for call in self.pending:
            if call.active():
                call.cancel()
        for holders in self.net.world.values():
            holders.discard(self.name)


@dataclass
class SimNode:
    """One simulated daemon: its core, its output and what it reported."""

    name: str
    core: NodeCore
    output: SimOutput
    events: list[tuple[float, events.Event]] = field(default_factory=list)
    delivered: list[tuple[str, Message]] = field(default_factory=list)
    delivered_at: list[float] = field(default_factory=list)
    running: bool = True
    groups: SimGroups | None = None

    def status_of(self, node: str) -> str:
        """The status this node holds for `node`."""
        return self.core.membership.peers[node].status

    def link_of(self, node: str, link: str) -> str:
        """The status this node holds for the link to `node` through `link`."""
        return self.core.membership.peers[node].links[link].status


class SimNet:
    """Nodes that broadcast every message on every medium, with random loss and cuts."""

    def __init__(
        self,
        names: list[str],
        *,
        links: tuple[str, ...] = ("eth0", "eth1"),
        timing: Timing = FAST,
        loss: float = 0.0,
        seed: int = 1,
        latency: float = 0.001,
        jitter: float = 0.0,
        duplicate: float = 0.0,
        source_loss: float = 0.0,
        heartbeat_exact: bool = False,
        groups: Sequence[GroupSpec] = (),
        auto_failback: str = "on",
        operation_delay: float = 0.05,
        heartbeat_copies: int = 1,
        ping_nodes: Sequence[str] = (),
    ) -> None:
        self.clock = HeapClock()
        self.clock.advance(START_TIME)
        self.names = names
        self.links = links
        self.timing = timing
        self.loss = loss
        self.latency = latency
        self.jitter = jitter
        self.duplicate = duplicate
        self.source_loss = source_loss
        self.heartbeat_exact = heartbeat_exact
        """Chance that a sender's copy on one medium is lost for every receiver at once."""
        self.rng = random.Random(seed)
        self.cuts: set[tuple[str, str]] = set()
        self.generations = {name: 100 for name in names}
        self.nodes: dict[str, SimNode] = {}
        self.wire_log: list[tuple[str, Message]] = []
        self.groups = tuple(groups)
        self.auto_failback = auto_failback
        self.operation_delay = operation_delay
        self.heartbeat_copies = heartbeat_copies
        self.ping_nodes = tuple(ping_nodes)
        self.lost_at_source: Callable[[str, Message], bool] = lambda source, message: False
        """Whether a sent message is lost on every medium (a test's choice, beside the random
        losses)."""
        self.world: dict[str, set[str]] = {}
        """Group key -> the nodes running it now."""
        self.peak = 0
        """The most nodes that ever ran one group at the same time."""
        for name in names:
            self.nodes[name] = self._make_node(name)

    def _make_node(self, name: str) -> SimNode:
        identity = Identity(name, name.encode().ljust(16, b"\0")[:16], self.generations[name])
        stamper = Stamper(
            identity,
            KEYRING,
            ttl=len(self.names) + 1,
            inner_auth=True,
            wallclock=self.clock.seconds,
            loadavg=lambda: "0.00 0.00 0.00 1/100 1",
        )
        node_events: list[tuple[float, events.Event]] = []
        delivered: list[tuple[str, Message]] = []
        delivered_at: list[float] = []

        def deliver(sender: str, message: Message) -> None:
            delivered.append((sender, message))
            delivered_at.append(self.clock.seconds())

        output = SimOutput(lambda message: self._broadcast(name, message))
        output.event_sinks.append(lambda event: node_events.append((self.clock.seconds(), event)))
        output.message_sinks.append(deliver)
        groups = SimGroups(name, self, self.operation_delay)
        core = NodeCore(
            stamper=stamper,
            nodes=self.names,
            links=self.links,
            timing=self.timing,
            clock=self.clock,
            output=output,
            advertise_ranges=not self.heartbeat_exact,
            rng=random.Random(self.rng.random()),
            groups=self.groups,
            auto_failback=self.auto_failback,
            actions=groups,
            heartbeat_copies=self.heartbeat_copies,
            ping_nodes=self.ping_nodes,
        )
        groups.core = core
        return SimNode(name, core, output, node_events, delivered, delivered_at, groups=groups)

    def start(self, *names: str) -> None:
        """Start the named nodes (all when none is named)."""
        for name in names or tuple(self.nodes):
            self.nodes[name].core.start()

    def _broadcast(self, source: str, message: Message) -> None:
        sender = self.nodes.get(source)
        if sender is not None and not sender.running:
            return
        self.wire_log.append((source, message))
        if self.lost_at_source(source, message):
            self.missed(source, message, [target for target in self.names if target != source])
            return
        received = decode_datagram(encode_datagram(message, KEYRING), KEYRING)
        reached: set[str] = set()
        for link in self.links:
            if (source, link) in self.cuts:
                continue
            if self.source_loss and self.rng.random() < self.source_loss:
                continue
            for target in self.names:
                if target == source or (target, link) in self.cuts:
                    continue
                copies = 2 if self.duplicate and self.rng.random() < self.duplicate else 1
                for _ in range(copies):
                    if self.loss and self.rng.random() < self.loss:
                        continue
                    delay = self.latency + self.rng.uniform(0, self.jitter)
                    self.clock.callLater(delay, self._deliver, target, received, link)
                    reached.add(target)
        self.missed(source, message, [t for t in self.names if t != source and t not in reached])

    def missed(self, source: str, message: Message, targets: list[str]) -> None:
        """Called for every message with the nodes that got no copy of it (for measurements)."""

    def _deliver(self, target: str, message: Message, link: str) -> None:
        node = self.nodes[target]
        if node.running and (target, link) not in self.cuts:
            node.core.receive(message, link)

    def cut(self, name: str, link: str) -> None:
        """Unplug `name` from medium `link`."""
        self.cuts.add((name, link))

    def heal(self, name: str, link: str) -> None:
        """Plug `name` back into medium `link`."""
        self.cuts.discard((name, link))

    def crash(self, name: str) -> None:
        """Kill a node: it stops sending and hearing at once."""
        node = self.nodes[name]
        node.running = False
        node.core.stop()
        if node.groups is not None:
            node.groups.die()

    def stop_gracefully(self, name: str) -> None:
        """Shut a node down as SIGTERM does: release its groups, send `shutdone`, stop."""
        node = self.nodes[name]

        def released() -> None:
            node.core.shutdown()
            node.core.stop()
            node.running = False

        node.core.resources.shutdown(released)

    def holders(self, key: str) -> set[str]:
        """The nodes running group `key` now."""
        return set(self.world.get(key, set()))

    def restart(self, name: str) -> SimNode:
        """Start a crashed node again with the next generation."""
        self.generations[name] += 1
        self.nodes[name] = self._make_node(name)
        self.nodes[name].core.start()
        return self.nodes[name]

    def run(self, seconds: float, step: float = 0.005) -> None:
        """Advance simulated time in small steps so timers fire close to when they are due."""
        for _ in range(round(seconds / step)):
            self.clock.advance(step)

    def when(self, name: str, kind: type, **match: object) -> float | None:
        """When `name` first reported an event of `kind` whose fields match, or None."""
        for moment, event in self.nodes[name].events:
            if isinstance(event, kind) and all(getattr(event, k) == v for k, v in match.items()):
                return moment
        return None
