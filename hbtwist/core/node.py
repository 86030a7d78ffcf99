"""`NodeCore`: one node's cores together; classifies each packet and passes it forward once."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from twisted.internet.interfaces import IReactorTime
from zope.interface import implementer

from hbtwist.core import events
from hbtwist.core.caps import LINK_REFRESH_WINDOW
from hbtwist.core.delivery import ReliableDelivery
from hbtwist.core.events import Event
from hbtwist.core.failover import ResourceManager
from hbtwist.core.holders import GroupSpec
from hbtwist.core.inbound import (
    ECHO,
    Echo,
    Header,
    Inspection,
    Overheard,
    RecentDatagrams,
    Rejection,
    optional_decimal,
    optional_hex,
    read_header,
)
from hbtwist.core.membership import PROTOCOL_TYPES, Membership
from hbtwist.core.output import (
    ICoreOutput,
    IDeliveryOutput,
    IFailoverOutput,
    IGroupActions,
    IMembershipOutput,
)
from hbtwist.core.peers import Peer
from hbtwist.core.seqtrack import Verdict
from hbtwist.core.snapshot import NodeSnapshot
from hbtwist.core.stamp import Stamper
from hbtwist.core.stats import NodeStats
from hbtwist.core.timing import Timing
from hbtwist.wire import Message
from hbtwist.wire.names import fold_name


class NodeCore:
    """Sans-IO node: datagrams and timers in; packets, ordered messages and events out."""

    def __init__(
        self,
        *,
        stamper: Stamper,
        nodes: Sequence[str],
        links: Sequence[str],
        timing: Timing,
        clock: IReactorTime,
        output: ICoreOutput,
        autojoin: bool = False,
        max_rexmit_delay_ms: int = 250,
        advertise_ranges: bool = True,
        rng: random.Random | None = None,
        groups: Sequence[GroupSpec] = (),
        auto_failback: str = "legacy",
        actions: IGroupActions | None = None,
        heartbeat_copies: int = 1,
        stonith_device: str | None = None,
        ping_nodes: Sequence[str] = (),
    ) -> None:
        """`advertise_ranges=False` makes peers ask this node for retransmissions one number
        at a time, without suppression: exactly as Heartbeat 3.0.6 does (for comparisons).
        Each status goes out `heartbeat_copies` times per keepalive (`Membership`).

        `groups` are the resource groups; `actions` starts and stops them and logs the
        resource manager's lines (it may be None only when there are no groups);
        `stonith_device` names the STONITH device type that resets dead nodes (None: none);
        `ping_nodes` are the nodes of type ping (spec 7.7), each with its own single link."""
        identity = stamper.identity
        self.local = identity.name
        self.identity = identity
        self.keyring = stamper.keyring
        self.autojoin = autojoin
        self.test_drop: Callable[[str], bool] | None = None
        """The `OnlyForTesting` hook's verdict on a message from a node (None: no hook)."""
        self.stats = NodeStats()
        self._recent = RecentDatagrams(self.keyring, local=fold_name(self.local))
        self._out = output
        self.membership = Membership(
            local=self.local,
            generation=identity.generation,
            timing=timing,
            clock=clock,
            output=_MembershipOutput(self),
            advertise_ranges=advertise_ranges,
            heartbeat_copies=heartbeat_copies,
        )
        self.delivery = ReliableDelivery(
            local=self.local,
            stamper=stamper,
            clock=clock,
            output=_DeliveryOutput(self),
            stats=self.stats,
            alive_remote=self.membership.alive_remote,
            is_alive=self.membership.is_alive,
            uuid_of=self.membership.uuid_of,
            max_rexmit_delay_ms=max_rexmit_delay_ms,
            rng=rng,
        )
        self.resources = ResourceManager(
            local=self.local,
            nodes=[fold_name(name) for name in nodes],
            groups=groups,
            auto_failback=auto_failback,
            clock=clock,
            output=_FailoverOutput(self, actions),
            stonith=stonith_device,
        )
        link_names = tuple(dict.fromkeys(links))
        for name in nodes:
            self._add_node(fold_name(name), link_names)
        if self.local not in self.membership.peers:
            self._add_node(self.local, link_names)
        self.ping_nodes = frozenset(
            self.membership.add_ping_node(fold_name(name)).name for name in ping_nodes
        )
        self.resources.connectivity.hold_off_s = timing.ping_deadtime_ms / 1000.0
        local = self.membership.peers[self.local]
        local.uuid = identity.uuid
        local.generation = identity.generation

    # Life cycle

    def start(self) -> None:
        """Announce this node and start heartbeats and the initdead countdowns."""
        self.membership.start()

    def shutdown(self) -> None:
        """Tell the peers this node is leaving (a last status, then `shutdone`)."""
        self.membership.shutdown()

    def stop(self) -> None:
        """Cancel every timer; the node is inert afterwards."""
        self.resources.stop()
        self.membership.stop()
        self.delivery.stop()

    # Reading

    @property
    def comm_up(self) -> bool:
        """Whether every configured node was heard from or declared dead."""
        return self.membership.comm_up

    @property
    def local_status(self) -> str:
        """This node's own status: `init`, `up` or `active`."""
        return self.membership.local_status

    @property
    def queued(self) -> int:
        """Application messages waiting to be sent."""
        return self.delivery.queued

    @property
    def paused(self) -> bool:
        """Whether application messages wait for acknowledgements."""
        return self.delivery.paused

    def snapshot(self) -> NodeSnapshot:
        """The node's state now, frozen, for readers."""
        membership = self.membership
        delivery = self.delivery.snapshot()
        return NodeSnapshot(
            local=self.local,
            local_status=membership.local_status,
            generation=self.identity.generation,
            uuid=self.identity.uuid,
            comm_up=membership.comm_up,
            timing=membership.timing,
            peers=membership.snapshot(),
            stats=self.stats.copy(),
            queued=delivery.queued,
            paused=delivery.paused,
        )

    # Application messages

    def submit(self, message: Message) -> None:
        """Queue an application message for every node (or its `dest`); sent in order."""
        self.delivery.submit(message)

    # Receiving

    def datagram_received(self, data: bytes, link: str, source: object = None) -> None:
        """Check and decode one datagram or frame that arrived through the medium `link`."""
        self._process(self._recent.inspect(data), link, source)

    def sent(self, datagram: bytes) -> None:
        """This node sent `datagram`: its echo (a broadcast) needs no decoding."""
        self._recent.remember(datagram, ECHO)

    def receive(self, message: Message, link: str, source: object = None) -> None:
        """Process one authenticated message that arrived through the medium named `link`."""
        self._process(read_header(message), link, source)

    def _process(self, header: Inspection, link: str, source: object) -> None:
        if not isinstance(header, Header):
            self._process_other(header, link, source)
            return
        if self.test_drop is not None and header.name != self.local and self.test_drop(header.raw_name):
            return
        peer = self._lookup(header)
        if peer is None:
            return
        kind, generation = header.kind, header.generation
        if peer.name == self.local:
            self._heard_self(generation, link)
        elif generation < peer.generation:
            self.stats.dropped.replay += 1
        elif peer.is_ping:
            self.stats.received += self.membership.ping_heard(peer, kind, header.message, link)
        elif header.unsequenced:
            self._receive_unsequenced(kind, header.message, peer, link, source)
        else:
            self._receive_sequenced(kind, header, peer, link, source)

    def _process_other(self, verdict: Echo | Overheard | Rejection, link: str, source: object) -> None:
        if isinstance(verdict, Echo):
            self.membership.link_heard(self.membership.peers[self.local], link)
        elif isinstance(verdict, Overheard):
            self.stats.received += 1
        else:
            self._rejected(verdict, link, source)

    def _lookup(self, header: Header) -> Peer | None:
        membership = self.membership
        uuid, name = header.uuid, header.name
        peer = membership.by_uuid.get(uuid) if uuid else None
        if peer is not None and peer.name != name:
            self.stats.dropped.uuid_mismatch += 1
            return None
        peer = peer or membership.peers.get(name)
        if peer is None and self.autojoin:
            peer = self._add_node(name)
        if peer is None:
            self.stats.dropped.unknown_node += 1
            return None
        if uuid and peer.uuid != uuid and peer.name != self.local:
            membership.learn_uuid(peer, uuid)
        return peer

    def _heard_self(self, generation: int, link: str) -> None:
        if generation != self.identity.generation:
            self.stats.dropped.foreign_self += 1
            return
        self.membership.link_heard(self.membership.peers[self.local], link)

    def _receive_unsequenced(
        self, kind: str, message: Message, peer: Peer, link: str, source: object
    ) -> None:
        destination = fold_name(message.text("dest") or "")
        if kind == "NS_nak_rexmit":
            first = optional_hex(message, "firstseq")
            if first is None:
                self._malformed(link, source, "bad firstseq")
                return
            self.stats.received += 1
            self.delivery.rexmit.refused(peer.name, first)
        elif kind == "NS_rexmit" and destination:
            first = optional_decimal(message, "firstseq")
            last = optional_decimal(message, "lastseq")
            if first is None or last is None:
                self._malformed(link, source, "bad firstseq or lastseq")
                return
            self.stats.received += 1
            self.membership.copies.loss_seen()
            if destination == self.local and first:
                self.delivery.answer(peer.name, first, last)
            elif destination in self.membership.peers:
                self.delivery.rexmit.overheard(destination, first, last)
        elif kind == "NS_ackmsg":
            ackseq = optional_hex(message, "ackseq")
            if ackseq is None:
                self._malformed(link, source, "bad ackseq")
                return
            self.stats.received += 1
            if self._is_to_us(message):
                self.delivery.acknowledged(peer.name, ackseq)
        else:
            self.stats.received += 1

    def _receive_sequenced(
        self, kind: str, header: Header, peer: Peer, link: str, source: object
    ) -> None:
        message, seq, generation = header.message, header.seq, header.generation
        self.membership.track_generation(peer, generation, seq, kind == "status")
        delivery = self.delivery
        observation = delivery.observe(peer.name, seq)
        if observation.verdict is Verdict.OLD:
            self.stats.dropped.duplicate += 1
            recent = seq + LINK_REFRESH_WINDOW > delivery.last_seq(peer.name)
            if generation == peer.generation and recent:
                self.membership.link_heard(peer, link)
                self.membership.peer_heard(peer, new=False)
            return
        if kind == "status":
            self._out.heard_from(peer.name, source)
        self.membership.link_heard(peer, link)
        if observation.verdict is Verdict.DUPLICATE:
            self.stats.dropped.duplicate += 1
            self.membership.peer_heard(peer, new=False)
            return
        self.membership.peer_heard(peer, new=True)
        if observation.lost is not None:
            self.membership.copies.loss_seen()
        delivery.accepted(peer.name, seq, observation)
        if self._is_to_us(message):
            if kind in PROTOCOL_TYPES:
                self.membership.dispatch(kind, message, peer, seq)
            else:
                delivery.hold(peer.name, seq, message)
        delivery.release(peer.name)

    # Helpers

    def _add_node(self, name: str, links: Sequence[str] = ()) -> Peer:
        peer = self.membership.add_node(name, links)
        self.delivery.add_stream(name)
        return peer

    def _is_to_us(self, message: Message) -> bool:
        destuuid = message.binary("destuuid")
        if destuuid is not None:
            return destuuid == self.identity.uuid
        destination = message.text("dest")
        return destination is None or fold_name(destination) == self.local

    def _malformed(self, link: str, source: object, detail: str) -> None:
        self._rejected(Rejection("malformed", detail), link, source)

    def _rejected(self, rejection: Rejection, link: str, source: object) -> None:
        total = self.stats.dropped.rejected(rejection.reason)
        self._out.rejected(rejection.reason, total, link, source, rejection.detail)

    def _delivered(self, sender: str, message: Message) -> None:
        self._out.deliver(sender, message)
        self.resources.message(sender, message)

    def _event(self, event: Event) -> None:
        """Report an event to the host, then let the resource manager act on it."""
        self._out.report(event)
        if isinstance(event, events.NodeStatusChanged) and event.node not in self.ping_nodes:
            self.resources.node_status(event.node, event.new)
        elif isinstance(event, events.PingsReached):
            self.resources.connectivity.observe(event.node, event.count)
        elif isinstance(event, events.CommUp):
            self.resources.comm_up()
        elif isinstance(event, events.PartitionHealed):
            self.resources.partitions.healed(event.node)
        elif isinstance(event, events.ShutdownNotice):
            self.resources.fencing.node_shut_down(event.node)


@implementer(IMembershipOutput)
class _MembershipOutput:
    """Membership's requests, carried out by the delivery core and the host."""

    def __init__(self, core: NodeCore) -> None:
        self._core = core
        self._status_seq = 0

    def send(self, message: Message) -> None:
        seq = self._core.delivery.send(message)
        if message.text("t") == "status":
            self._status_seq = seq

    def repeat_status(self) -> None:
        if self._status_seq:
            self._core.delivery.repeat(self._status_seq)

    def report(self, event: Event) -> None:
        self._core._event(event)

    def heard_status(self, node: str, ranges: bool, flow_control: bool) -> None:
        self._core.delivery.heard_status(node, ranges, flow_control)

    def restarted(self, node: str) -> None:
        self._core.delivery.restart(node)

    def stream_ended(self, node: str, reason: str, keep_sequence: bool) -> None:
        self._core.delivery.forget(node, reason, keep_sequence)

    def liveness_changed(self) -> None:
        self._core.delivery.pump()


@implementer(IDeliveryOutput)
class _DeliveryOutput:
    """Delivery's output: packets and events to the host, messages also to the resources core."""

    def __init__(self, core: NodeCore) -> None:
        self._core = core

    def transmit(self, message: Message) -> None:
        self._core._out.transmit(message)

    def transmit_to(self, message: Message, node: str) -> None:
        self._core._out.transmit_to(message, node)

    def deliver(self, sender: str, message: Message) -> None:
        self._core._delivered(sender, message)

    def report(self, event: Event) -> None:
        self._core._event(event)


@implementer(IFailoverOutput)
class _FailoverOutput:
    """The resource manager's output: messages through reliable delivery, the rest to the host."""

    def __init__(self, core: NodeCore, actions: IGroupActions | None) -> None:
        self._core = core
        self._actions = actions

    def _host(self) -> IGroupActions:
        if self._actions is None:
            raise RuntimeError("resource groups need an IFailoverOutput host")
        return self._actions

    def send(self, message: Message) -> None:
        """An identical message still waiting to be sent is not queued twice (a flood of
        `starting` then costs one report)."""
        self._core.delivery.submit_once(message)

    def start_group(self, key: str) -> None:
        self._host().start_group(key)

    def stop_group(self, key: str) -> None:
        self._host().stop_group(key)

    def fence(self, node: str) -> None:
        self._host().fence(node)

    def report(self, event: Event) -> None:
        self._core._out.report(event)

    def say(self, level: str, text: str) -> None:
        if self._actions is not None:
            self._actions.say(level, text)
