"""The three-phase standby (spec 8.6) and what is built on it: takeover, failback, hand-over.

A node giving groups away (the giver) sends `ask_resources info=me`; one node answers `other`
(the responder: the node named in `hbtwist_to`, else the giver's successor in ha.cf order); the
giver stops the groups and sends `done`; each released group is then started by its taker (the
named node, else the rule of `holders.py` without the giver), and the responder answers `done`.
Heartbeat 3.0.6 nodes speak the same messages and ignore hbtwist's two extra fields.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from twisted.internet.interfaces import IDelayedCall

from hbtwist.core import rscmsg
from hbtwist.core.holders import in_set, mirrored, successor, taker
from hbtwist.wire import Message
from hbtwist.wire.names import fold_name

if TYPE_CHECKING:
    from hbtwist.core.failover import ResourceManager

REPLY_WAIT_S = 10.0
"""How long a giver waits for `other` before it cancels (Heartbeat's standby reply timer)."""
STEP_LIMIT_S = 3600.0
"""How long any later step of a standby may take (Heartbeat's one-hour limit)."""


@dataclass
class Conversation:
    """One standby in progress, seen from one side."""

    which: str
    keys: tuple[str, ...]
    to: str | None
    step: str
    """Giver: `asking`, `giving`, `waiting`. Receiver: `listening` or `taking`."""
    partner: str | None = None
    responder: bool = False
    timer: IDelayedCall | None = None

    def cancel_timer(self) -> None:
        if self.timer is not None and self.timer.active():
            self.timer.cancel()
        self.timer = None


class Standby:
    """The standby conversations of one node: the one it asks for, and those it answers."""

    def __init__(self, manager: ResourceManager) -> None:
        self._m = manager
        self._mine: Conversation | None = None
        self._theirs: dict[str, Conversation] = {}
        self._failbacks: list[str] = []
        """Nodes owed an auto failback, in the order their stable reports came."""

    @property
    def active(self) -> bool:
        """Whether a standby involving this node is in progress."""
        return self._mine is not None or bool(self._theirs)

    def description(self) -> str | None:
        """The standby in progress, for readers (`asking all`, `taking foreign from hb1`)."""
        if self._mine is not None:
            return f"{self._mine.step} {self._mine.which}"
        for giver, conversation in self._theirs.items():
            return f"{conversation.step} {conversation.which} from {giver}"
        return None

    # Requests from the operator

    def request(self, which: str) -> str | None:
        """`hb_standby which`: give this node's `which` groups away. None, or why not."""
        refusal = self._refusal(which)
        if refusal is not None:
            return refusal
        m = self._m
        keys = [key for key in m.held() if in_set(m.groups[key].spec, m.local, which)]
        self._ask(which, keys, None)
        return None

    def request_takeover(self, which: str) -> str | None:
        """`hb_takeover which`: ask the holders of this node's `which` groups to give them here."""
        refusal = self._refusal(which)
        if refusal is None:
            self._m.send(rscmsg.takeover_request(which))
        return refusal

    def _refusal(self, which: str) -> str | None:
        m = self._m
        if which not in rscmsg.REQUEST_SETS:
            return f"unknown resource set {which!r} (all, local, foreign or failback)"
        if not m.nice:
            return "Standby mode only implemented when nice_failback on (auto_failback on|off)"
        if not m.stable:
            return "local resources in flux: start-up, shutdown, or an operation in progress"
        return None

    # The giver's side

    def hand_over(self, keys: Sequence[str], reason: str) -> None:
        """Groups that failed here go to another node through a standby."""
        m = self._m
        if self._mine is not None or len(m.alive) < 2:
            m.say("warn", f"Cannot hand over {' '.join(keys)} ({reason}) now; they stay stopped.")
            return
        local = all(m.groups[key].spec.preferred == m.local for key in keys)
        self._ask("local" if local else "foreign", list(keys), None)

    def give(self, which: str, keys: Sequence[str], to: str) -> None:
        """Give the held groups `keys` (Heartbeat's set `which`) to the node `to`, by a standby
        naming it, unless a standby of this node is already in progress."""
        if self._mine is None:
            self._ask(which, keys, to)

    def _ask(self, which: str, keys: Sequence[str], to: str | None) -> None:
        m = self._m
        if len(m.alive) < 2:
            m.say("info", "No reply to standby request.  Standby request cancelled.")
            return
        m.say("info", f"Sending standby [{which}] msg")
        mine = Conversation(which, tuple(keys), to, "asking")
        mine.timer = m.clock.callLater(REPLY_WAIT_S, self._no_reply)
        self._mine = mine
        m.send(rscmsg.ask_resources(which, "me", keys, to))

    def _no_reply(self) -> None:
        if self._mine is not None and self._mine.step == "asking":
            self._mine.timer = None
            self._mine = None
            self._m.say("info", "No reply to standby request.  Standby request cancelled.")
            self.failback()

    def _answered(self, sender: str, which: str) -> None:
        m, mine = self._m, self._mine
        if mine is None or mine.step != "asking":
            m.say("info", f"Ignored standby message 'other' from {sender}.")
            return
        mine.cancel_timer()
        mine.step, mine.partner = "giving", sender
        m.say("info", f"standby: {sender} can take our {which} resources")
        for key in mine.keys:
            m.groups[key].giver = m.local
        remaining = [key for key in m.held() if key not in mine.keys]
        m.send(rscmsg.resource_report(m.held_word(remaining), False, remaining, "standby"))
        m.releases += len(mine.keys)
        m.run_batch("stop", list(reversed(mine.keys)), self._given)

    def _given(self) -> None:
        m, mine = self._m, self._mine
        if mine is None:
            return
        released = [key for key in mine.keys if m.groups[key].state in ("stopped", "failed")]
        m.say("info", f"Local standby process completed [{mine.which}].")
        mine.step = "waiting"
        mine.timer = m.clock.callLater(STEP_LIMIT_S, self._partner_silent)
        m.send(rscmsg.ask_resources(mine.which, "done", released, mine.to))

    def _partner_silent(self) -> None:
        if self._mine is not None:
            self._mine.timer = None
            self._release_givers(self._mine.keys)
            self._mine = None
            self._m.say("warn", "Standby: the other node never confirmed its takeover.")
            self.failback()

    # The receiving side

    def on_ask(self, sender: str, message: Message) -> None:
        """One `ask_resources` message from another node."""
        which = message.text("rsc_hold") or ""
        phase = message.text("info") or ""
        if which not in rscmsg.REQUEST_SETS or phase not in ("me", "other", "done"):
            self._m.say("warn", f"Received standby message without info/from from {sender}.")
        elif phase == "me":
            self._asked(sender, which, message)
        elif phase == "other":
            self._answered(sender, which)
        else:
            self._done(sender, which, message)

    def _asked(self, sender: str, which: str, message: Message) -> None:
        m = self._m
        if not m.nice:
            return
        if m.phase == "shutting down":
            m.say("warn", "standby message ignored during shutdown")
            return
        if not m.stable or self._mine is not None:
            m.say("warn", f"standby message [me] from {sender} ignored.  local resources in flux.")
            return
        exact = rscmsg.decode_groups(message, m.groups)
        keys = (
            exact
            if exact is not None
            else [
                key
                for key, group in m.groups.items()
                if group.holder == sender and in_set(group.spec, sender, which)
            ]
        )
        to_text = message.text(rscmsg.TO_FIELD)
        to = fold_name(to_text) if to_text else None
        responder = (to == m.local) if to else successor(sender, m.order, m.alive) == m.local
        for key in keys:
            m.groups[key].giver = sender
        m.say("info", f"{sender} wants to go standby [{which}]")
        conversation = Conversation(which, tuple(keys), to, "listening", sender, responder)
        conversation.timer = m.clock.callLater(STEP_LIMIT_S, self._giver_silent, sender)
        self._theirs[sender] = conversation
        if responder:
            m.send(rscmsg.ask_resources(which, "other"))

    def _giver_silent(self, giver: str) -> None:
        conversation = self._theirs.pop(giver, None)
        if conversation is not None:
            conversation.timer = None
            self._release_givers(conversation.keys)

    def _done(self, sender: str, which: str, message: Message) -> None:
        m = self._m
        conversation = self._theirs.pop(sender, None)
        if conversation is None:
            mine = self._mine
            if mine is not None and mine.step == "waiting" and sender == mine.partner:
                mine.cancel_timer()
                self._mine = None
                self._release_givers(mine.keys)
                m.say("info", f"Other node completed standby takeover of {which} resources.")
                m.report_holdings()
                self.failback()
            return
        conversation.cancel_timer()
        exact = rscmsg.decode_groups(message, m.groups)
        released = conversation.keys if exact is None else tuple(exact)
        self._release_givers(conversation.keys)
        for key in released:
            if m.groups[key].holder == sender:
                m.set_holder(m.groups[key], None)
        taking = [key for key in released if self._takes(key, sender, conversation.to)]
        m.takeovers += len(taking)
        conversation.step = "taking"

        def taken() -> None:
            if conversation.responder:
                m.send(rscmsg.ask_resources(which, "done"))
            if conversation.responder or taking:
                m.say("info", f"Standby resource acquisition done [{which}].")
            m.report_holdings()
            m.reconcile()

        m.run_batch("start", taking, taken)

    def _takes(self, key: str, giver: str, to: str | None) -> bool:
        m = self._m
        group = m.groups[key]
        if group.state != "stopped" or group.holder is not None:
            return False
        if to:
            return to == m.local
        return taker(group.spec, m.order, m.alive, exclude={giver}) == m.local

    def on_takeover_request(self, sender: str, message: Message) -> None:
        """`hb_takeover` from another node: give it the groups of its set that are held here."""
        m = self._m
        which = message.text("rsc_hold") or ""
        if which not in rscmsg.REQUEST_SETS or not m.nice:
            return
        keys = [key for key in m.held() if in_set(m.groups[key].spec, sender, which)]
        if not keys:
            return
        if not m.stable:
            m.say("warn", f"standby message [{which}] from {sender} ignored.  local resources in flux.")
            return
        self._ask(mirrored(which), keys, sender)

    def on_stable_report(self, sender: str) -> None:
        """A node reported stable after its start: with `auto_failback on`, give it back its own
        groups, now or once this node is stable (one standby at a time)."""
        if self._m.auto_failback != "on":
            return
        if sender not in self._failbacks:
            self._failbacks.append(sender)
        self.failback()

    def failback(self) -> None:
        """Start the next auto failback owed, if this node is stable."""
        m = self._m
        while self._failbacks and m.stable:
            sender = self._failbacks.pop(0)
            keys = [key for key in m.held() if m.groups[key].spec.preferred == sender]
            if sender in m.alive and keys:
                m.say("info", "Auto failback triggered.")
                self._ask("foreign", keys, sender)

    # Membership and life cycle

    def node_died(self, node: str) -> None:
        """A node died: conversations with it end; its released groups become orphans."""
        mine = self._mine
        if mine is not None and node in (mine.partner, mine.to):
            mine.cancel_timer()
            self._mine = None
            self._release_givers(mine.keys)
            if mine.step == "asking":
                self._m.say("info", "No reply to standby request.  Standby request cancelled.")
        conversation = self._theirs.pop(node, None)
        if conversation is not None:
            conversation.cancel_timer()
            self._release_givers(conversation.keys)

    def cancel(self) -> None:
        """End every conversation and cancel their timers."""
        if self._mine is not None:
            self._mine.cancel_timer()
            self._release_givers(self._mine.keys)
            self._mine = None
        for conversation in self._theirs.values():
            conversation.cancel_timer()
            self._release_givers(conversation.keys)
        self._theirs.clear()

    def _release_givers(self, keys: Sequence[str]) -> None:
        for key in keys:
            self._m.groups[key].giver = None
