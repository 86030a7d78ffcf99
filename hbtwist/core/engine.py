"""The heartbeat engine: status messages, node and link membership, comm-up, ACKs (spec 4, 6)."""

from __future__ import annotations

import random
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

from twisted.internet.interfaces import IReactorTime

from hbtwist.core import events
from hbtwist.core.deadline import Deadline
from hbtwist.core.delivery import Deliver, OrderedInbox
from hbtwist.core.history import TransmitHistory
from hbtwist.core.peers import ACTIVE, DEAD, INIT, LINK_DEAD, LINK_UP, UP, Link, Peer
from hbtwist.core.rexmit import Retransmission
from hbtwist.core.seqtrack import Verdict
from hbtwist.core.stamp import Stamper, is_unsequenced
from hbtwist.wire import Message

STARTUP_EXTRA_DEADTIME_MS = 2000
"""Added to the advertised deadtime for the first seconds after start, as Heartbeat does."""

STARTUP_EXTRA_SECONDS = 5.0
REQNODES_RETRY_SECONDS = 1.0
ACK_DIVISOR = 10
LINK_REFRESH_WINDOW = 500
"""An old copy refreshes its link only if it is this close to the newest sequence number."""

MIN_STALL_SECONDS = 0.05
PUMP_BATCH = 25
"""Application messages sent per turn of the event loop at most."""

FLOWCONTROL_LIMIT = 250
"""Unacknowledged messages beyond which application messages wait (never heartbeats)."""

HBTWIST_PROTOCOL = "1"
"""Sent in every status as field `hbtwist`: the peer may use range and suppressed NACKs."""

PROTOCOL_TYPES = frozenset({"status", "reqnodes", "repnodes", "shutdone"})
"""Sequenced types the engine consumes; every other type is delivered to the application."""


@dataclass(frozen=True)
class Timing:
    """The timers of ha.cf, in milliseconds."""

    keepalive_ms: int
    deadtime_ms: int
    warntime_ms: int
    initdead_ms: int


def _decimal(text: str | None) -> int:
    """A positive decimal number as `atoi` reads the fields of NS_rexmit, or 0."""
    if not text or len(text) > 10 or not text.isdigit():
        return 0
    return int(text)


def _hex(text: str | None) -> int:
    """A positive hex number, or 0 when absent or not hex."""
    if not text or len(text) > 16:
        return 0
    try:
        return int(text, 16)
    except ValueError:
        return 0


class Engine:
    """Sans-IO heartbeat and membership: feed it messages, it sends messages and reports events."""

    def __init__(
        self,
        *,
        stamper: Stamper,
        nodes: Sequence[str],
        links: Sequence[str],
        timing: Timing,
        clock: IReactorTime,
        send: Callable[[Message], None],
        emit: events.EventSink,
        deliver: Deliver | None = None,
        autojoin: bool = False,
        max_rexmit_delay_ms: int = 250,
        advertise_ranges: bool = True,
        rng: random.Random | None = None,
    ) -> None:
        """`advertise_ranges=False` makes peers ask this node for retransmissions one number
        at a time, without suppression: exactly as Heartbeat 3.0.6 does (for comparisons)."""
        self.stamper = stamper
        self.local = stamper.identity.name
        self.timing = timing
        self.link_names = tuple(dict.fromkeys(links))
        self.autojoin = autojoin
        self.counters: Counter[str] = Counter()
        self.history = TransmitHistory()
        self.advertise_ranges = advertise_ranges
        self.local_status = INIT
        self.comm_up = False
        self.flow_control = True
        self._clock = clock
        self._send_message = send
        self._emit = emit
        self._rng = rng or random.Random()
        self._deliver = deliver or (lambda sender, message: None)
        self.inbox = OrderedInbox(self._deliver)
        self._outbox: deque[Message] = deque()
        self.rexmit = Retransmission(
            clock=clock,
            history=self.history,
            counters=self.counters,
            send=self._send,
            resend=self._send_message,
            on_lost=self._on_lost,
            is_alive=lambda name: self.peers[name].alive,
            max_delay_ms=max_rexmit_delay_ms,
            rng=self._rng,
        )
        self._extra_deadtime_ms = 0
        self._stall_reported_until = 0.0
        self._awaiting_repnodes: str | None = None
        self._heartbeat = Deadline(clock, self._on_heartbeat_due)
        self._startup = Deadline(clock, self._on_startup_over)
        self._reqnodes = Deadline(clock, self._on_reqnodes_due)
        self._next_pump = Deadline(clock, lambda lateness: self._pump())
        self.peers: dict[str, Peer] = {}
        self._by_uuid: dict[bytes, Peer] = {}
        for name in nodes:
            self._add_peer(name.lower())
        if self.local not in self.peers:
            self._add_peer(self.local)
        self.peers[self.local].uuid = stamper.identity.uuid
        self.peers[self.local].generation = stamper.identity.generation

    # Life cycle

    def start(self) -> None:
        """Announce this node (`init`, then `up`), start heartbeats and the initdead countdowns."""
        self._extra_deadtime_ms = STARTUP_EXTRA_DEADTIME_MS
        self._send_status()
        self._set_local_status(UP)
        self._heartbeat.arm(self._seconds(self.timing.keepalive_ms))
        self._startup.arm(STARTUP_EXTRA_SECONDS)
        for peer in self.remote_peers():
            peer.deadline.arm(self._seconds(self._threshold(peer)))
        self._check_comm_up()

    def shutdown(self) -> None:
        """Tell the peers this node is leaving (a last status, then `shutdone`)."""
        self._send_status()
        self._send(Message.of(("t", "shutdone"), ("st", DEAD)))

    def stop(self) -> None:
        """Cancel every timer; the engine is inert afterwards."""
        for deadline in (self._heartbeat, self._startup, self._reqnodes, self._next_pump):
            deadline.cancel()
        self.rexmit.stop()
        for peer in self.peers.values():
            peer.deadline.cancel()
            for link in peer.links.values():
                link.deadline.cancel()

    def remote_peers(self) -> list[Peer]:
        """Every node but this one, in configuration order."""
        return [peer for name, peer in self.peers.items() if name != self.local]

    # Receiving

    def receive(self, message: Message, link: str) -> None:
        """Process one authenticated message that arrived through the medium named `link`."""
        kind = message.text("t")
        source = message.text("src")
        if not kind or not source or not _hex(message.text("ts")):
            self.counters["dropped.malformed"] += 1
            return
        unsequenced = is_unsequenced(kind)
        seq = 0 if unsequenced else _hex(message.text("seq"))
        if not unsequenced and not seq:
            self.counters["dropped.malformed"] += 1
            return
        peer = self._lookup(message, source.lower())
        if peer is None:
            return
        if peer.name == self.local:
            self._heard_self(message, link)
            return
        if unsequenced:
            self._receive_unsequenced(kind, message, peer)
            return
        self._receive_sequenced(kind, message, peer, seq, link)

    def _lookup(self, message: Message, source: str) -> Peer | None:
        uuid = message.binary("srcuuid")
        peer = self._by_uuid.get(uuid) if uuid else None
        if peer is not None and peer.name != source:
            self.counters["dropped.uuid_mismatch"] += 1
            return None
        peer = peer or self.peers.get(source)
        if peer is None and self.autojoin:
            peer = self._add_peer(source)
        if peer is None:
            self.counters["dropped.unknown_node"] += 1
            return None
        if uuid and peer.uuid != uuid and peer.name != self.local:
            if peer.uuid is not None:
                self._by_uuid.pop(peer.uuid, None)
            peer.uuid = uuid
            self._by_uuid[uuid] = peer
        return peer

    def _heard_self(self, message: Message, link: str) -> None:
        if _hex(message.text("hg")) != self.stamper.identity.generation:
            self.counters["dropped.foreign_self"] += 1
            return
        self._refresh_link(self.peers[self.local], link)

    def _receive_unsequenced(self, kind: str, message: Message, peer: Peer) -> None:
        self.counters["received"] += 1
        destination = (message.text("dest") or "").lower()
        if kind == "NS_nak_rexmit":
            self.rexmit.refused(peer.name, _hex(message.text("firstseq")))
        elif kind == "NS_rexmit" and destination:
            first = _decimal(message.text("firstseq"))
            last = _decimal(message.text("lastseq"))
            if destination == self.local and first:
                self.rexmit.answer(peer.name, peer.ackseq, first, last)
            elif destination in self.peers:
                self.rexmit.overheard(destination, first, last)
        elif kind == "NS_ackmsg" and self._is_to_us(message):
            ackseq = _hex(message.text("ackseq"))
            if peer.ackseq < ackseq <= self.stamper.last_seq:
                peer.ackseq = ackseq
                self._pump()

    def _receive_sequenced(self, kind: str, message: Message, peer: Peer, seq: int, link: str) -> None:
        generation = _hex(message.text("hg"))
        if generation < peer.generation:
            self.counters["dropped.replay"] += 1
            return
        if kind == "status":
            self._track_generation(peer, generation, seq)
        observation = peer.tracker.observe(seq)
        if observation.verdict is Verdict.OLD:
            self.counters["dropped.duplicate"] += 1
            last = peer.tracker.last_seq or 0
            if generation == peer.generation and seq + LINK_REFRESH_WINDOW > last:
                self._refresh_link(peer, link)
            return
        self._refresh_link(peer, link)
        if observation.verdict is Verdict.DUPLICATE:
            self.counters["dropped.duplicate"] += 1
            return
        self.counters["received"] += 1
        if observation.recovered:
            self.counters["recovered"] += 1
            self.rexmit.arrived(peer.name, seq)
        if observation.lost is not None:
            first, last = observation.lost
            self.counters["lost"] += last - first + 1
            if observation.resynchronised:
                self._on_lost(peer.name, first, last, "gap too large to repair")
            else:
                self.rexmit.missing(peer.name, first, last, exact=not peer.hbtwist)
        self._maybe_ack(peer)
        if self._is_to_us(message):
            if kind in PROTOCOL_TYPES:
                self._dispatch(kind, message, peer, seq)
            else:
                self.inbox.hold(peer.name, seq, message)
        self.inbox.release(peer.name, peer.tracker.contiguous())

    def _track_generation(self, peer: Peer, generation: int, seq: int) -> None:
        if generation > peer.generation:
            if peer.generation:
                self._emit(events.NodeRestarted(peer.name, peer.generation, generation))
            self._forget_stream(peer, "sender restarted")
            self.inbox.restart(peer.name)
            peer.last_status_at = None
            peer.last_status_seq = 0
            peer.generation = generation
        elif (
            peer.status == DEAD and seq > peer.last_status_seq and generation != peer.shutdown_generation
        ):
            self._emit(events.PartitionHealed(peer.name))
            self._forget_stream(peer, "sender was partitioned away")

    def _dispatch(self, kind: str, message: Message, peer: Peer, seq: int) -> None:
        if kind == "status":
            self._on_status(message, peer, seq)
        elif kind == "reqnodes":
            self._send(
                Message.of(
                    ("dest", peer.name),
                    ("t", "repnodes"),
                    ("nodelist", "".join(f"{name} " for name in self.peers)),
                    ("delnodelist", " "),
                )
            )
        elif kind == "repnodes":
            self._on_repnodes(peer)
        elif kind == "shutdone":
            self._emit(events.ShutdownNotice(peer.name))
            peer.shutdown_generation = peer.generation
            self._mark_dead(peer, reason="sender shut down", keep_sequence=True)

    def _on_status(self, message: Message, peer: Peer, seq: int) -> None:
        if seq <= peer.last_status_seq or peer.generation == peer.shutdown_generation:
            return
        now = self._clock.seconds()
        if peer.last_status_at is not None:
            interval_ms = round((now - peer.last_status_at) * 1000)
            if interval_ms > self.timing.warntime_ms:
                peer.late_heartbeats += 1
                critical = interval_ms > self.timing.deadtime_ms
                self._emit(events.LateHeartbeat(peer.name, interval_ms, critical))
        peer.last_status_at = now
        peer.last_status_seq = seq
        peer.heard = True
        peer.hbtwist = "hbtwist" in message
        peer.heartbeats += 1
        advertised = _hex(message.text("dt"))
        if advertised:
            peer.deadtime_ms = advertised
        if "protocol" not in message and self.flow_control:
            self.flow_control = False
            self.counters["flow_control_disabled"] += 1
        status = message.text("st") or ""
        if status.lower() != peer.status.lower():
            old, peer.status = peer.status, status
            self._emit(events.NodeStatusChanged(peer.name, old, status, peer.generation))
            self._pump()
        peer.deadline.arm(self._seconds(self._threshold(peer)))
        self._check_comm_up()

    def _on_repnodes(self, peer: Peer) -> None:
        if self._awaiting_repnodes != peer.name:
            return
        self._awaiting_repnodes = None
        self._reqnodes.cancel()
        self._comm_now_up()

    # Application messages, losses and flow control

    def submit(self, message: Message) -> None:
        """Queue an application message for every node (or its `dest`); sent in order.

        It waits while flow control is engaged (too many messages unacknowledged by a live
        peer); heartbeats never wait. A message for every node is also delivered locally.
        """
        self._outbox.append(message)
        self._pump()

    @property
    def paused(self) -> bool:
        """Whether application messages wait for acknowledgements."""
        if not self.flow_control:
            return False
        live = [peer.ackseq for peer in self.remote_peers() if peer.alive]
        return bool(live) and self.stamper.last_seq - min(live) > FLOWCONTROL_LIMIT

    @property
    def queued(self) -> int:
        """Application messages waiting to be sent."""
        return len(self._outbox)

    def _pump(self) -> None:
        """Send queued application messages, at most PUMP_BATCH per turn of the event loop,
        so that a long queue never delays heartbeats or the reading of the media."""
        for _ in range(PUMP_BATCH):
            if not self._outbox or self.paused:
                return
            message = self._outbox.popleft()
            self._send(message)
            if (message.text("dest") or self.local).lower() == self.local:
                self._deliver(self.local, message)
        if self._outbox and not self._next_pump.armed:
            self._next_pump.arm(0)

    def _on_lost(self, sender: str, first: int, last: int, reason: str) -> None:
        peer = self.peers[sender]
        for seq in [seq for seq in peer.tracker.missing if first <= seq <= last]:
            del peer.tracker.missing[seq]
        self.counters["lost.unrecovered"] += last - first + 1
        self._emit(events.MessagesLost(sender, first, last, reason))
        self.inbox.release(sender, peer.tracker.contiguous())
        self._maybe_ack(peer)

    def _forget_stream(self, peer: Peer, reason: str, keep_sequence: bool = False) -> None:
        """Give up the sender's gaps and deliver what was held; unless `keep_sequence`, its
        numbering restarts too."""
        self.rexmit.forget(peer.name, reason)
        self.inbox.release(peer.name, None)
        if not keep_sequence:
            peer.forget_sequence()

    # Links and deaths

    def _refresh_link(self, peer: Peer, name: str) -> None:
        link = peer.links.get(name)
        if link is None:
            link = self._add_link(peer, name)
        link.last_heard = self._clock.seconds()
        link.heard += 1
        if link.status != LINK_UP:
            self._set_link(peer, link, LINK_UP)
        if peer.name != self.local:
            link.deadline.arm(self._seconds(peer.deadtime_ms))

    def _set_link(self, peer: Peer, link: Link, status: str) -> None:
        old, link.status = link.status, status
        link.transitions += 1
        self._emit(events.LinkStatusChanged(peer.name, link.name, old, status))

    def _on_link_expired(self, peer: Peer, link: Link, lateness: float) -> None:
        if self._stalled(lateness):
            link.deadline.arm(self._grace())
            return
        self._set_link(peer, link, LINK_DEAD)

    def _on_peer_expired(self, peer: Peer, lateness: float) -> None:
        if self._stalled(lateness):
            peer.deadline.arm(self._grace())
            return
        self._mark_dead(peer)

    def _mark_dead(
        self, peer: Peer, reason: str = "sender declared dead", keep_sequence: bool = False
    ) -> None:
        """Declare a node dead; after a shutdown notice its numbering is kept, so the copies
        of that notice still arriving on other media are recognised as duplicates."""
        peer.deadline.cancel()
        if peer.status != DEAD:
            old, peer.status = peer.status, DEAD
            self._emit(events.NodeStatusChanged(peer.name, old, DEAD, peer.generation))
        self._forget_stream(peer, reason, keep_sequence)
        self._pump()
        if self._awaiting_repnodes == peer.name:
            self._awaiting_repnodes = None
            self._reqnodes.cancel()
        self._check_comm_up()

    def _stalled(self, lateness: float) -> bool:
        """Whether a timer fired so late that this node, not the peer, was stuck."""
        if lateness <= max(MIN_STALL_SECONDS, self._seconds(self.timing.keepalive_ms)):
            return False
        now = self._clock.seconds()
        if now >= self._stall_reported_until:
            self._emit(events.LocalStall(round(lateness * 1000)))
            self._stall_reported_until = now + self._grace()
        return True

    def _grace(self) -> float:
        return 2 * self._seconds(self.timing.keepalive_ms)

    # Sending

    def _send(self, message: Message) -> None:
        self.counters["sent"] += 1
        stamped = self.stamper.stamp(message)
        seq = _hex(stamped.text("seq"))
        if seq:
            self.history.add(seq, stamped)
        self._send_message(stamped)

    def _send_status(self) -> None:
        deadtime = self.timing.deadtime_ms + self._extra_deadtime_ms
        fields: list[tuple[str, str]] = [
            ("t", "status"),
            ("st", self.local_status),
            ("dt", f"{deadtime:x}"),
        ]
        if self.flow_control:
            fields.append(("protocol", "1"))
        if self.advertise_ranges:
            fields.append(("hbtwist", HBTWIST_PROTOCOL))
        self._send(Message.of(*fields))

    def _set_local_status(self, status: str) -> None:
        old, self.local_status = self.local_status, status
        self.peers[self.local].status = status
        self._emit(events.NodeStatusChanged(self.local, old, status, self.stamper.identity.generation))
        self._send_status()

    def _on_heartbeat_due(self, lateness: float) -> None:
        self._stalled(lateness)
        self._send_status()
        self._heartbeat.arm(self._seconds(self.timing.keepalive_ms))

    def _on_startup_over(self, lateness: float) -> None:
        self._extra_deadtime_ms = 0
        self._send_status()

    def _maybe_ack(self, peer: Peer) -> None:
        if not self.flow_control:
            return
        contiguous = peer.tracker.contiguous()
        if contiguous is None:
            return
        candidate = contiguous - (contiguous - peer.ack_trigger) % ACK_DIVISOR
        if candidate > peer.last_acked and candidate > 0:
            peer.last_acked = candidate
            self._send(Message.of(("t", "NS_ackmsg"), ("dest", peer.name), ("ackseq", f"{candidate:x}")))

    # Comm-up

    def _check_comm_up(self) -> None:
        if self.comm_up or self._awaiting_repnodes is not None:
            return
        remote = self.remote_peers()
        if any(not peer.heard and peer.status != DEAD for peer in remote):
            return
        target = next((peer for peer in remote if peer.status != DEAD), None)
        if self.flow_control and target is not None:
            self._awaiting_repnodes = target.name
            self._on_reqnodes_due(0.0)
            return
        self._comm_now_up()

    def _on_reqnodes_due(self, lateness: float) -> None:
        if self._awaiting_repnodes is None:
            return
        self._send(Message.of(("t", "reqnodes"), ("dest", self._awaiting_repnodes)))
        self._reqnodes.arm(REQNODES_RETRY_SECONDS)

    def _comm_now_up(self) -> None:
        self.comm_up = True
        self._emit(events.CommUp(self.local))
        self._set_local_status(ACTIVE)

    # Helpers

    def _add_peer(self, name: str) -> Peer:
        peer = Peer(name, self.timing.deadtime_ms, self._rng.randrange(ACK_DIVISOR))
        peer.deadline = Deadline(self._clock, partial(self._on_peer_expired, peer))
        self.peers[name] = peer
        for link in self.link_names:
            self._add_link(peer, link)
        return peer

    def _add_link(self, peer: Peer, name: str) -> Link:
        link = Link(name)
        link.deadline = Deadline(self._clock, partial(self._on_link_expired, peer, link))
        peer.links[name] = link
        return link

    def _threshold(self, peer: Peer) -> int:
        if self.comm_up:
            return peer.deadtime_ms
        return max(self.timing.initdead_ms, peer.deadtime_ms)

    def _is_to_us(self, message: Message) -> bool:
        destuuid = message.binary("destuuid")
        if destuuid is not None:
            return destuuid == self.stamper.identity.uuid
        destination = message.text("dest")
        return destination is None or destination.lower() == self.local

    @staticmethod
    def _seconds(milliseconds: int) -> float:
        return milliseconds / 1000.0
