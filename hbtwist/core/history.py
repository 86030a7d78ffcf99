"""The transmit history: recently sent messages kept for retransmission (spec sections 4.5, 5.3)."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from hbtwist.core.caps import HISTORY_SIZE
from hbtwist.wire import Message


@dataclass(slots=True)
class Sent:
    """One stamped message and when it was last retransmitted (None: never)."""

    message: Message
    last_resent: float | None = None


class TransmitHistory:
    """The last `size` sequenced messages this node sent, by sequence number."""

    def __init__(self, size: int = HISTORY_SIZE) -> None:
        self.size = size
        self._sent: OrderedDict[int, Sent] = OrderedDict()
        self.highest = 0

    def add(self, seq: int, message: Message) -> None:
        """Remember a message just sent; the oldest is forgotten beyond `size`."""
        sent = self._sent
        sent[seq] = Sent(message)
        if seq > self.highest:
            self.highest = seq
        while len(sent) > self.size:
            sent.popitem(last=False)

    @property
    def lowest(self) -> int:
        """The oldest sequence number still held (highest + 1 when empty)."""
        return next(iter(self._sent), self.highest + 1)

    def get(self, seq: int) -> Sent | None:
        """The entry for `seq`, if still held."""
        return self._sent.get(seq)
