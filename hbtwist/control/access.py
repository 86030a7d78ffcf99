"""`IClusterNode`: all that the control plane (control port, metrics, manhole) may do to a node."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from zope.interface import Interface

from hbtwist.core.events import Event
from hbtwist.core.snapshot import FailoverSnapshot, NodeSnapshot
from hbtwist.wire import Message

EventSink = Callable[[Event], None]
MessageListener = Callable[[str, Message], None]
"""(sender, message): one cluster message, delivered in each sender's order."""
Unsubscribe = Callable[[], None]


class IClusterNode(Interface):
    """A running node as the control plane sees it: read through snapshots, act through commands."""

    def snapshot() -> NodeSnapshot:
        """The node's state now, frozen."""

    def parameter(name: str) -> str | None:
        """Heartbeat's `getparm` value of the ha.cf setting `name`, None when unset."""

    def subscribe(sink: EventSink) -> Unsubscribe:
        """Call `sink` with every event from now on; the returned function stops that."""

    def listen(listener: MessageListener) -> Unsubscribe:
        """Call `listener` with every cluster message from now on; the returned function stops that."""

    def submit(messages: Sequence[Message]) -> None:
        """Queue application messages, in order, for the cluster."""

    def resources() -> FailoverSnapshot:
        """The resource manager's state now: what this node holds and every group, frozen."""

    def standby(which: str) -> str | None:
        """Ask to give resources away (`all`, `local`, `foreign`, `failback`), as `hb_standby`.

        Returns None when the request was sent, else why it was refused (shown to the operator).
        """

    def takeover(which: str) -> str | None:
        """Ask to take resources over (`all`, `local`, `foreign`, `failback`), as `hb_takeover`.

        Returns None when the request was sent, else why it was refused.
        """


def add_callback(callbacks: list[Callable[..., None]], callback: Callable[..., None]) -> Unsubscribe:
    """Append `callback` to `callbacks`; the returned function removes it again (once)."""
    callbacks.append(callback)

    def remove() -> None:
        if callback in callbacks:
            callbacks.remove(callback)

    return remove
