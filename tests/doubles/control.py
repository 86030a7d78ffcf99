"""Test support: an `IClusterNode` over a simulated node and in-memory control connections."""

from __future__ import annotations

from collections.abc import Coroutine, Sequence
from typing import Any, Protocol, TypeVar

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure
from twisted.test import iosim
from zope.interface import implementer

from hbtwist.control.access import (
    EventSink,
    IClusterNode,
    MessageListener,
    Unsubscribe,
    add_callback,
)
from hbtwist.control.client import ClientProtocol, ControlClient
from hbtwist.control.server import ControlProtocol
from hbtwist.control.view import NodeView
from hbtwist.core.events import Event
from hbtwist.core.snapshot import FailoverSnapshot, NodeSnapshot
from hbtwist.wire import Message
from tests.simnet import SimNode

T = TypeVar("T")


class HaCfLike(Protocol):
    """The part of `HaCf` a fake node reads."""

    def parameter(self, name: str) -> str | None:
        """The `getparm` value of `name`."""


class ConfigLike(Protocol):
    """The part of `ClusterConfig` a fake node reads."""

    @property
    def hacf(self) -> HaCfLike:
        """The parsed ha.cf."""


@implementer(IClusterNode)
class FakeNode:
    """What the control plane sees of `NodeService`, around one simulated node's real core.

    It fans the core's events and messages out to its own `subscribers` and
    `message_listeners`, as `NodeService` does; `emit` reports an event as if the core had.
    The simulated node runs no resource manager: `resources()` is the snapshot a test put in
    `failover`, else that of a stable node holding nothing; standby and takeover requests are
    recorded in `requests` as `(request, which)` and answered with `refusal` (None: sent).
    """

    def __init__(self, node: SimNode, config: ConfigLike) -> None:
        self.core = node.core
        self.config = config
        self.subscribers: list[EventSink] = []
        self.message_listeners: list[MessageListener] = []
        self.failover: FailoverSnapshot | None = None
        self.requests: list[tuple[str, str]] = []
        self.refusal: str | None = None
        node.output.event_sinks.append(self.emit)
        node.output.message_sinks.append(self.deliver)

    def emit(self, event: Event) -> None:
        """Fan one event out to the subscribers."""
        for subscriber in list(self.subscribers):
            subscriber(event)

    def deliver(self, sender: str, message: Message) -> None:
        """Fan one cluster message out to the listeners."""
        for listener in list(self.message_listeners):
            listener(sender, message)

    def snapshot(self) -> NodeSnapshot:
        return self.core.snapshot()

    def parameter(self, name: str) -> str | None:
        return self.config.hacf.parameter(name)

    def subscribe(self, sink: EventSink) -> Unsubscribe:
        return add_callback(self.subscribers, sink)

    def listen(self, listener: MessageListener) -> Unsubscribe:
        return add_callback(self.message_listeners, listener)

    def submit(self, messages: Sequence[Message]) -> None:
        for message in messages:
            self.core.submit(message)

    def resources(self) -> FailoverSnapshot:
        if self.failover is not None:
            return self.failover
        auto_failback = self.parameter("auto_failback") or "legacy"
        return FailoverSnapshot("none", True, auto_failback, (), None)

    def standby(self, which: str) -> str | None:
        self.requests.append(("standby", which))
        return self.refusal

    def takeover(self, which: str) -> str | None:
        self.requests.append(("takeover", which))
        return self.refusal


def connect_in_memory(view: NodeView) -> tuple[ControlClient, ControlProtocol, iosim.IOPump]:
    """A client and a server protocol joined by an in-memory pump."""
    server = ControlProtocol(view)
    client = ClientProtocol()
    pump = iosim.connect(server, iosim.makeFakeServer(server), client, iosim.makeFakeClient(client))
    return ControlClient(client, "memory"), server, pump


def run_pumped(pump: iosim.IOPump, work: Coroutine[Any, Any, T], rounds: int = 1000) -> T:
    """Run `work` to completion by pumping bytes; its result, or its exception re-raised."""
    done = Deferred.fromCoroutine(work)
    outcome: list[Any] = []
    done.addBoth(outcome.append)
    for _ in range(rounds):
        if outcome:
            break
        pump.flush()
    if not outcome:
        raise AssertionError("the control exchange did not finish")
    result = outcome[0]
    if isinstance(result, Failure):
        result.raiseException()
    value: T = result
    return value
