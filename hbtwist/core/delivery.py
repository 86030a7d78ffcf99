"""Reliable delivery: sending through the history, NACK repair, ordered inbox, ACKs, flow control."""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from twisted.internet.interfaces import IReactorTime

from hbtwist.core import events
from hbtwist.core.caps import ACK_DIVISOR, FLOWCONTROL_LIMIT, MAX_HELD_MESSAGES, PUMP_BATCH
from hbtwist.core.deadline import Deadline
from hbtwist.core.history import TransmitHistory
from hbtwist.core.inbox import OrderedInbox
from hbtwist.core.output import IDeliveryOutput
from hbtwist.core.rexmit import Retransmission, runs
from hbtwist.core.seqtrack import Observation, SequenceTracker
from hbtwist.core.snapshot import DeliverySnapshot
from hbtwist.core.stamp import Stamper
from hbtwist.core.stats import NodeStats
from hbtwist.wire import Message
from hbtwist.wire.names import fold_name


@dataclass
class Stream:
    """One sender's numbered stream as this node receives it, and how far it acknowledged ours."""

    ack_trigger: int
    """Where in each run of ACK_DIVISOR numbers this node acknowledges (spread over receivers)."""
    tracker: SequenceTracker = field(default_factory=SequenceTracker)
    last_acked: int = 0
    ackseq: int = 0
    """The highest of our sequence numbers this sender acknowledged."""
    ranges: bool = False
    """Whether the sender takes range requests with suppression (an hbtwist node)."""

    def forget_sequence(self) -> None:
        """Reset sequence and acknowledgement tracking (restart, death, resynchronisation)."""
        self.tracker.reset()
        self.last_acked = 0
        self.ackseq = 0


class ReliableDelivery:
    """Sans-IO reliable delivery of one node, over every sender's stream."""

    def __init__(
        self,
        *,
        local: str,
        stamper: Stamper,
        clock: IReactorTime,
        output: IDeliveryOutput,
        stats: NodeStats,
        alive_remote: Callable[[], list[str]],
        is_alive: Callable[[str], bool],
        uuid_of: Callable[[str], bytes | None],
        max_rexmit_delay_ms: int = 250,
        rng: random.Random | None = None,
    ) -> None:
        self.local = local
        self.stamper = stamper
        self.stats = stats
        self.history = TransmitHistory()
        self.flow_control = True
        self.streams: dict[str, Stream] = {}
        self._out = output
        self._alive_remote = alive_remote
        self._uuid_of = uuid_of
        self._rng = rng or random.Random()
        self.inbox = OrderedInbox(output.deliver)
        self._outbox: deque[Message] = deque()
        self._next_pump = Deadline(clock, lambda lateness: self.pump())
        self.rexmit = Retransmission(
            clock=clock,
            history=self.history,
            counts=stats.rexmit,
            send=self.send,
            resend=output.transmit,
            on_lost=self._on_lost,
            is_alive=is_alive,
            max_delay_ms=max_rexmit_delay_ms,
            rng=self._rng,
        )

    def add_stream(self, sender: str) -> None:
        """Expect messages from one more node."""
        self.streams[sender] = Stream(self._rng.randrange(ACK_DIVISOR))

    def stop(self) -> None:
        """Cancel every timer; nothing more is sent."""
        self._next_pump.cancel()
        self.rexmit.stop()

    # Sending

    def send(self, message: Message) -> int:
        """Stamp a message, keep it in the history if numbered, and transmit it; its sequence
        number (0 for an unsequenced one)."""
        self.stats.sent += 1
        destination = message.text("dest")
        destuuid = None if destination is None else self._uuid_of(destination)
        stamped, seq = self.stamper.stamp_numbered(message, destuuid)
        if seq:
            self.history.add(seq, stamped)
        self._out.transmit(stamped)
        return seq

    def _acknowledge(self, sender: str, seq: int) -> None:
        """Tell `sender` this node has its messages up to `seq`. Only the sender reads an
        acknowledgement (unsequenced, nobody tracks it), so it skips the unicast media known
        to reach other nodes only."""
        self.stats.sent += 1
        stamped = self.stamper.acknowledgement(sender, seq, self._uuid_of(sender))
        self._out.transmit_to(stamped, sender)

    def repeat(self, seq: int) -> None:
        """Transmit the message sent as `seq` once more, as it was (receivers take the copy
        for a duplicate); nothing if the history no longer holds it."""
        sent = self.history.get(seq)
        if sent is not None:
            self._out.transmit(sent.message)

    def submit_once(self, message: Message) -> None:
        """Queue `message` unless an identical one still waits to be sent (a repeated answer,
        such as a resource report, then costs nothing)."""
        if message not in self._outbox:
            self.submit(message)

    def submit(self, message: Message) -> None:
        """Queue an application message for every node (or its `dest`); sent in order.

        It waits while flow control is engaged (too many messages unacknowledged by a live
        peer); heartbeats never wait. A message for every node is also delivered locally.
        """
        self._outbox.append(message)
        self.pump()

    @property
    def paused(self) -> bool:
        """Whether application messages wait for acknowledgements."""
        if not self.flow_control:
            return False
        live = [self.streams[name].ackseq for name in self._alive_remote()]
        return bool(live) and self.stamper.last_seq - min(live) > FLOWCONTROL_LIMIT

    @property
    def queued(self) -> int:
        """Application messages waiting to be sent."""
        return len(self._outbox)

    def pump(self) -> None:
        """Send queued application messages, at most PUMP_BATCH per turn of the event loop,
        so that a long queue never delays heartbeats or the reading of the media."""
        for _ in range(PUMP_BATCH):
            if not self._outbox or self.paused:
                return
            message = self._outbox.popleft()
            self.send(message)
            if fold_name(message.text("dest") or self.local) == self.local:
                self._out.deliver(self.local, message)
        if self._outbox and not self._next_pump.armed:
            self._next_pump.arm(0)

    def snapshot(self) -> DeliverySnapshot:
        """The sizes of what delivery holds now, frozen."""
        return DeliverySnapshot(
            queued=self.queued,
            paused=self.paused,
            pending_requests=self.rexmit.pending(),
            held_messages=self.inbox.waiting(),
        )

    # Receiving

    def observe(self, sender: str, seq: int) -> Observation:
        """Classify a sequenced message of `sender` (new, duplicate, old) and note any gap."""
        return self.streams[sender].tracker.observe(seq)

    def last_seq(self, sender: str) -> int:
        """The highest sequence number seen from `sender` (0 before any)."""
        return self.streams[sender].tracker.last_seq or 0

    def accepted(self, sender: str, seq: int, observation: Observation) -> None:
        """A new message of `sender` was accepted: repair what it showed missing, acknowledge."""
        stream = self.streams[sender]
        self.stats.received += 1
        if observation.recovered:
            self.stats.recovered += 1
            self.rexmit.arrived(sender, seq)
        if observation.lost is not None:
            first, last = observation.lost
            self.stats.lost += last - first + 1
            if observation.resynchronised:
                self._give_up(sender, observation.evicted, "gap too large to repair")
                self._on_lost(sender, first, last, "gap too large to repair")
            else:
                self.rexmit.missing(sender, first, last, exact=not stream.ranges)
                self._give_up(sender, observation.evicted, "too many messages missing")
        self._maybe_ack(sender)

    def hold(self, sender: str, seq: int, message: Message) -> None:
        """Keep an application message until everything before it arrived or was given up;
        beyond MAX_HELD_MESSAGES held, the gaps before the oldest held message are given up."""
        self.inbox.hold(sender, seq, message)
        if self.inbox.held(sender) > MAX_HELD_MESSAGES:
            oldest = self.inbox.oldest(sender)
            blocking = [number for number in self.streams[sender].tracker.missing if number < oldest]
            self._give_up(sender, blocking, "too many messages held behind a gap")

    def release(self, sender: str) -> None:
        """Deliver what nothing missing holds back any more."""
        self.inbox.release(sender, self.streams[sender].tracker.contiguous())

    def heard_status(self, sender: str, ranges: bool, flow_control: bool) -> None:
        """A sender's status told whether it takes range requests and uses flow control."""
        self.streams[sender].ranges = ranges
        if not flow_control and self.flow_control:
            self.flow_control = False
            self.stats.flow_control_disabled += 1

    def acknowledged(self, sender: str, ackseq: int) -> None:
        """`sender` acknowledged our stream up to `ackseq`."""
        stream = self.streams[sender]
        if stream.ackseq < ackseq <= self.stamper.last_seq:
            stream.ackseq = ackseq
            self.pump()

    def answer(self, requester: str, first: int, last: int) -> None:
        """`requester` asked for our messages `first..last` again."""
        self.rexmit.answer(requester, self.streams[requester].ackseq, first, last)

    # Ends of streams

    def restart(self, sender: str) -> None:
        """The sender restarted: report what never came, and count its numbers from scratch."""
        self.forget(sender, "sender restarted")
        self.inbox.restart(sender)

    def forget(self, sender: str, reason: str, keep_sequence: bool = False) -> None:
        """Give up the sender's gaps and deliver what was held; unless `keep_sequence`, its
        numbering restarts too."""
        self.rexmit.forget(sender, reason)
        self.inbox.release(sender, None)
        if not keep_sequence:
            self.streams[sender].forget_sequence()

    def _give_up(self, sender: str, numbers: Sequence[int], reason: str) -> None:
        """Stop waiting for `numbers` (missing from `sender`) and report them lost."""
        self.rexmit.abandon(sender, numbers)
        for first, last in runs(sorted(numbers)):
            self._on_lost(sender, first, last, reason)

    def _on_lost(self, sender: str, first: int, last: int, reason: str) -> None:
        tracker = self.streams[sender].tracker
        for seq in [seq for seq in tracker.missing if first <= seq <= last]:
            del tracker.missing[seq]
        self.stats.lost_unrecovered += last - first + 1
        self._out.report(events.MessagesLost(sender, first, last, reason))
        self.release(sender)
        self._maybe_ack(sender)

    def _maybe_ack(self, sender: str) -> None:
        if not self.flow_control:
            return
        stream = self.streams[sender]
        contiguous = stream.tracker.contiguous()
        if contiguous is None:
            return
        candidate = contiguous - (contiguous - stream.ack_trigger) % ACK_DIVISOR
        if candidate > stream.last_acked and candidate > 0:
            stream.last_acked = candidate
            self._acknowledge(sender, candidate)
