"""Membership: heartbeats, node and link status, generations, deaths and comm-up (spec 4, 6).

Ping nodes (spec 7.7): `ping` while echo replies arrive within `deadping`, else `dead`; one link
named after them; counted for comm-up as in Heartbeat, never members (never `up` or `active`)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from twisted.internet.interfaces import IReactorTime

from hbtwist.core import events
from hbtwist.core.copies import HeartbeatCopies
from hbtwist.core.deadline import Deadline
from hbtwist.core.fields import parse_hex
from hbtwist.core.output import IMembershipOutput
from hbtwist.core.peers import ACTIVE, DEAD, INIT, LINK_DEAD, LINK_UP, PING, PING_NODE, UP, Link, Peer
from hbtwist.core.snapshot import PeerSnapshot
from hbtwist.core.stall import StallDetector
from hbtwist.core.status import PINGS_FIELD, StatusMessages
from hbtwist.core.timing import Timing
from hbtwist.wire import Message
from hbtwist.wire.names import fold_name

STARTUP_EXTRA_DEADTIME_MS = 2000
"""Added to the advertised deadtime for the first seconds after start, as Heartbeat does."""

STARTUP_EXTRA_SECONDS = 5.0
REQNODES_RETRY_SECONDS = 1.0

PROTOCOL_TYPES = frozenset({"status", "reqnodes", "repnodes", "shutdone"})
"""Sequenced types membership consumes; every other type is delivered to the application."""


class Membership:
    """Sans-IO membership of one node: feed it protocol messages, it reports through its output."""

    def __init__(
        self,
        *,
        local: str,
        generation: int,
        timing: Timing,
        clock: IReactorTime,
        output: IMembershipOutput,
        advertise_ranges: bool = True,
        heartbeat_copies: int = 1,
    ) -> None:
        """While packets are being lost, each status is sent `heartbeat_copies` times, evenly
        over the keepalive (`hbtwist.core.copies`, `hbtwist.core.timing.heartbeat_copies`)."""
        self.local = local
        self.generation = generation
        self.timing = timing
        self.advertise_ranges = advertise_ranges
        self.local_status = INIT
        self.comm_up = False
        self.flow_control = True
        """Whether this node announces flow control (`protocol=1`); off once a peer lacks it."""
        self.peers: dict[str, Peer] = {}
        self.by_uuid: dict[bytes, Peer] = {}
        self._link_names: tuple[str, ...] = ()
        self._clock = clock
        self._out = output
        self._stall = StallDetector(
            clock,
            self._seconds(timing.keepalive_ms),
            output.report,
            self._seconds(timing.deadtime_ms),
        )
        self._extra_deadtime_ms = 0
        self._awaiting_repnodes: str | None = None
        self._heartbeat = Deadline(clock, self._on_heartbeat_due)
        self._startup = Deadline(clock, self._on_startup_over)
        self._reqnodes = Deadline(clock, self._on_reqnodes_due)
        self.copies = HeartbeatCopies(clock, heartbeat_copies, output.repeat_status)
        self._statuses = StatusMessages()
        self._ping_nodes = False

    def add_node(self, name: str, links: Sequence[str] = ()) -> Peer:
        """Know one more node (from ha.cf, or one that joined), with a link per medium."""
        if links:
            self._link_names = tuple(dict.fromkeys(links))
        peer = Peer(name, self.timing.deadtime_ms)
        peer.deadline = Deadline(self._clock, partial(self._on_peer_expired, peer))
        peer.confirm = Deadline(self._clock, partial(self._on_peer_confirmed, peer))
        self.peers[name] = peer
        for link in self._link_names:
            self._add_link(peer, link)
        return peer

    def add_ping_node(self, name: str) -> Peer:
        """Know a ping node, dead after `deadping` without a reply, with its single link."""
        peer = Peer(name, self.timing.ping_deadtime_ms, kind=PING_NODE)
        self._ping_nodes = True
        peer.deadline = Deadline(self._clock, partial(self._on_peer_expired, peer))
        peer.confirm = Deadline(self._clock, partial(self._on_peer_confirmed, peer))
        self.peers[name] = peer
        self._add_link(peer, name)
        return peer

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
        self.check_comm_up()

    def shutdown(self) -> None:
        """Tell the peers this node is leaving (a last status, then `shutdone`)."""
        self._send_status()
        self._out.send(Message.of(("t", "shutdone"), ("st", DEAD)))

    def stop(self) -> None:
        """Cancel every timer; membership is inert afterwards."""
        for deadline in (self._heartbeat, self._startup, self._reqnodes):
            deadline.cancel()
        self.copies.stop()
        for peer in self.peers.values():
            peer.deadline.cancel()
            peer.confirm.cancel()
            for link in peer.links.values():
                link.deadline.cancel()

    # Reading

    def remote_peers(self) -> list[Peer]:
        """Every node but this one, in configuration order."""
        return [peer for name, peer in self.peers.items() if name != self.local]

    def is_alive(self, name: str) -> bool:
        """Whether the node called `name` is up or active."""
        peer = self.peers.get(name)
        return peer is not None and peer.alive

    def alive_remote(self) -> list[str]:
        """The names of the other nodes that are up or active."""
        return [peer.name for peer in self.remote_peers() if peer.alive]

    def pings_reached(self) -> int:
        """How many ping nodes answer now (a ping_group is one ping node)."""
        return sum(1 for peer in self.peers.values() if peer.is_ping and peer.status == PING)

    def uuid_of(self, name: str) -> bytes | None:
        """The UUID of the node called `name`, once known."""
        peer = self.peers.get(fold_name(name))
        return None if peer is None else peer.uuid

    def snapshot(self) -> tuple[PeerSnapshot, ...]:
        """Every node and its links, frozen, in configuration order."""
        return tuple(peer.snapshot() for peer in self.peers.values())

    # Receiving

    def learn_uuid(self, peer: Peer, uuid: bytes) -> None:
        """Record the UUID a node's messages carry (a new one replaces the old)."""
        if peer.uuid is not None:
            self.by_uuid.pop(peer.uuid, None)
        peer.uuid = uuid
        self.by_uuid[uuid] = peer

    def track_generation(self, peer: Peer, generation: int, seq: int, status: bool) -> None:
        """Notice a restart (any message of a higher generation), or a healed partition (a new
        status from a node declared dead, same generation)."""
        if generation > peer.generation:
            if peer.generation:
                self._out.report(events.NodeRestarted(peer.name, peer.generation, generation))
            self._out.restarted(peer.name)
            peer.last_status_at = None
            peer.last_status_seq = 0
            peer.generation = generation
        elif (
            status
            and peer.status == DEAD
            and seq > peer.last_status_seq
            and generation != peer.shutdown_generation
        ):
            self._out.report(events.PartitionHealed(peer.name))
            self._out.stream_ended(peer.name, "sender was partitioned away", False)

    def peer_heard(self, peer: Peer, new: bool) -> None:
        """An authentic message of `peer`'s current generation arrived: a `new` one, or a copy
        of one already received. Either keeps a live peer alive; a copy only within one
        keepalive of the first arrival of the newest message, so a replayed copy cannot keep
        a dead node alive for longer than that."""
        now = self._clock.seconds()
        if new:
            peer.newest_at = now
        elif peer.newest_at is None or now - peer.newest_at > self._seconds(self.timing.keepalive_ms):
            return
        if peer.deadline.armed:
            peer.deadline.arm(self._seconds(self._threshold(peer)))

    def link_heard(self, peer: Peer, name: str) -> None:
        """A packet of `peer` arrived through the medium `name`: that link is up."""
        link = peer.links.get(name)
        if link is None:
            link = self._add_link(peer, name)
        link.last_heard = self._clock.seconds()
        link.heard += 1
        if link.status != LINK_UP:
            self._set_link(peer, link, LINK_UP)
        if peer.name != self.local:
            link.deadline.arm(self._seconds(peer.deadtime_ms))

    def ping_heard(self, peer: Peer, kind: str, message: Message, link: str) -> bool:
        """An authentic message naming the ping node `peer` as its source arrived: whether it
        is an echo reply (`NS_st`, `info=ping`) through that ping node's own medium, which
        keeps the ping node alive as a status keeps a node alive."""
        if kind != "NS_st" or message.text("info") != "ping" or link != peer.name:
            return False
        self.link_heard(peer, link)
        peer.heard = True
        peer.heartbeats += 1
        peer.last_status_at = self._clock.seconds()
        if peer.status != PING:
            old, peer.status = peer.status, PING
            self._ping_status_changed(peer, old)
        peer.deadline.arm(self._seconds(self._threshold(peer)))
        self.check_comm_up()
        return True

    def _ping_status_changed(self, peer: Peer, old: str) -> None:
        self._out.report(events.NodeStatusChanged(peer.name, old, peer.status, peer.generation))
        self.peers[self.local].pings_reached = reached = self.pings_reached()
        self._out.report(events.PingsReached(self.local, reached))

    def dispatch(self, kind: str, message: Message, peer: Peer, seq: int) -> None:
        """Handle one new protocol message (a type of PROTOCOL_TYPES) addressed to this node."""
        if kind == "status":
            self._on_status(message, peer, seq)
        elif kind == "reqnodes":
            self._out.send(
                Message.of(
                    ("dest", peer.name),
                    ("t", "repnodes"),
                    ("nodelist", "".join(f"{name} " for name in self._normal_nodes())),
                    ("delnodelist", " "),
                )
            )
        elif kind == "repnodes":
            self._on_repnodes(peer)
        elif kind == "shutdone":
            self._out.report(events.ShutdownNotice(peer.name))
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
                self._out.report(events.LateHeartbeat(peer.name, interval_ms, critical))
        peer.last_status_at = now
        peer.last_status_seq = seq
        peer.heard = True
        peer.heartbeats += 1
        advertised = parse_hex(message.text("dt"))
        if advertised:
            peer.deadtime_ms = advertised
        flow_control = "protocol" in message
        if not flow_control:
            self.flow_control = False
        self._out.heard_status(peer.name, "hbtwist" in message, flow_control)
        self._heard_pings(peer, message.text(PINGS_FIELD))
        status = message.text("st") or ""
        if status.lower() != peer.status.lower():
            old, peer.status = peer.status, status
            self._out.report(events.NodeStatusChanged(peer.name, old, status, peer.generation))
            self._out.liveness_changed()
        peer.deadline.arm(self._seconds(self._threshold(peer)))
        self.check_comm_up()

    def _heard_pings(self, peer: Peer, text: str | None) -> None:
        """Note how many ping nodes `peer` says it reaches (None: it does not say)."""
        count = None
        if text is not None and text.isascii() and text.isdigit() and len(text) < 4:
            count = int(text)
        if count != peer.pings_reached:
            peer.pings_reached = count
            self._out.report(events.PingsReached(peer.name, count))

    def _on_repnodes(self, peer: Peer) -> None:
        if self._awaiting_repnodes != peer.name:
            return
        self._awaiting_repnodes = None
        self._reqnodes.cancel()
        self._comm_now_up()

    # Links and deaths

    def _set_link(self, peer: Peer, link: Link, status: str) -> None:
        if status == LINK_DEAD:
            self.copies.loss_seen()
        old, link.status = link.status, status
        link.transitions += 1
        self._out.report(events.LinkStatusChanged(peer.name, link.name, old, status))

    def _on_link_expired(self, peer: Peer, link: Link, lateness: float) -> None:
        if self._stalled(peer, lateness):
            link.deadline.arm(self._stall.grace)
            return
        self._set_link(peer, link, LINK_DEAD)

    def _on_peer_expired(self, peer: Peer, lateness: float) -> None:
        if self._stalled(peer, lateness):
            peer.deadline.arm(self._stall.grace)
            return
        peer.confirm.arm(self.timing.read_beat_s)

    def _on_peer_confirmed(self, peer: Peer, lateness: float) -> None:
        """The verdict on a silent peer, given one read beat later (`READ_BEATS_PER_KEEPALIVE`),
        once the node has read what arrived meanwhile: packets queued while it was busy, or
        waiting for a busy node's next beat, are not silence."""
        if peer.deadline.armed or peer.status == DEAD:
            return
        if self._stalled(peer, lateness):
            peer.deadline.arm(self._stall.grace)
            return
        self._mark_dead(peer)

    def _stalled(self, peer: Peer, lateness: float) -> bool:
        """Whether a verdict on `peer` must wait: this timer fired late, or this node was
        stalled within the peer's deadtime (its silence was not all heard)."""
        late = self._stall.stalled(lateness)
        return late or self._stall.stalled_within(self._seconds(peer.deadtime_ms))

    def _mark_dead(
        self, peer: Peer, reason: str = "sender declared dead", keep_sequence: bool = False
    ) -> None:
        """Declare a node dead; after a shutdown notice its numbering is kept, so the copies
        of that notice still arriving on other media are recognised as duplicates."""
        peer.deadline.cancel()
        peer.confirm.cancel()
        if peer.is_ping:
            if peer.status != DEAD:
                old, peer.status = peer.status, DEAD
                self._ping_status_changed(peer, old)
            self.check_comm_up()
            return
        if peer.status != DEAD:
            old, peer.status = peer.status, DEAD
            self._out.report(events.NodeStatusChanged(peer.name, old, DEAD, peer.generation))
        self._out.stream_ended(peer.name, reason, keep_sequence)
        self._out.liveness_changed()
        if self._awaiting_repnodes == peer.name:
            self._awaiting_repnodes = None
            self._reqnodes.cancel()
        self.check_comm_up()

    # Sending

    def _send_status(self) -> None:
        pings = self.pings_reached() if self._ping_nodes else None
        message = self._statuses.message(
            self.local_status,
            self.timing.deadtime_ms + self._extra_deadtime_ms,
            flow_control=self.flow_control,
            advertise_ranges=self.advertise_ranges,
            pings_reached=pings,
        )
        self._out.send(message)
        self.copies.status_sent(self._seconds(self.timing.keepalive_ms))

    def _set_local_status(self, status: str) -> None:
        old, self.local_status = self.local_status, status
        self.peers[self.local].status = status
        self._out.report(events.NodeStatusChanged(self.local, old, status, self.generation))
        self._send_status()

    def _on_heartbeat_due(self, lateness: float) -> None:
        self._heartbeat.arm(self._seconds(self.timing.keepalive_ms))
        self._stall.stalled(lateness)
        self._send_status()

    def _on_startup_over(self, lateness: float) -> None:
        self._extra_deadtime_ms = 0
        self._send_status()

    # Comm-up

    def check_comm_up(self) -> None:
        """Declare communication up once every node was heard from or declared dead."""
        if self.comm_up or self._awaiting_repnodes is not None:
            return
        remote = self.remote_peers()
        if any(not peer.heard and peer.status != DEAD for peer in remote):
            return
        target = next((peer for peer in remote if peer.status != DEAD and not peer.is_ping), None)
        if self.flow_control and target is not None:
            self._awaiting_repnodes = target.name
            self._on_reqnodes_due(0.0)
            return
        self._comm_now_up()

    def _on_reqnodes_due(self, lateness: float) -> None:
        if self._awaiting_repnodes is None:
            return
        self._reqnodes.arm(REQNODES_RETRY_SECONDS)
        self._out.send(Message.of(("t", "reqnodes"), ("dest", self._awaiting_repnodes)))

    def _comm_now_up(self) -> None:
        self.comm_up = True
        self._out.report(events.CommUp(self.local))
        self._set_local_status(ACTIVE)

    # Helpers

    def _normal_nodes(self) -> list[str]:
        return [name for name, peer in self.peers.items() if not peer.is_ping]

    def _add_link(self, peer: Peer, name: str) -> Link:
        link = Link(name)
        link.deadline = Deadline(self._clock, partial(self._on_link_expired, peer, link))
        peer.links[name] = link
        return link

    def _threshold(self, peer: Peer) -> int:
        if self.comm_up:
            return peer.deadtime_ms
        return max(self.timing.initdead_ms, peer.deadtime_ms)

    @staticmethod
    def _seconds(milliseconds: int) -> float:
        return milliseconds / 1000.0
