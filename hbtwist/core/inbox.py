"""In-order delivery per sender: hold a message until everything before it arrived or was lost."""

from __future__ import annotations

from collections.abc import Callable

from hbtwist.wire import Message

Deliver = Callable[[str, Message], None]
"""(sender, message): one message handed to the application, in the sender's order."""


class OrderedInbox:
    """Application messages waiting for the gaps before them to be repaired or given up."""

    def __init__(self, deliver: Deliver) -> None:
        self._deliver = deliver
        self._held: dict[str, dict[int, Message]] = {}
        self._delivered: dict[str, int] = {}

    def hold(self, sender: str, seq: int, message: Message) -> None:
        """Keep a message until `release` reaches its number; one already delivered is ignored."""
        if seq > self._delivered.get(sender, 0):
            self._held.setdefault(sender, {})[seq] = message

    def restart(self, sender: str) -> None:
        """The sender started a new generation: its numbers start again."""
        self._delivered.pop(sender, None)

    def release(self, sender: str, upto: int | None) -> None:
        """Deliver, in order, every held message numbered up to `upto` (None: all)."""
        held = self._held.get(sender)
        if not held:
            return
        ready = sorted(seq for seq in held if upto is None or seq <= upto)
        for seq in ready:
            self._delivered[sender] = seq
            self._deliver(sender, held.pop(seq))

    def held(self, sender: str) -> int:
        """How many messages of `sender` are held."""
        return len(self._held.get(sender, ()))

    def oldest(self, sender: str) -> int:
        """The lowest sequence number held for `sender` (0 when none is)."""
        return min(self._held.get(sender) or [0])

    def waiting(self) -> int:
        """How many messages are held, over all senders."""
        return sum(len(held) for held in self._held.values())
