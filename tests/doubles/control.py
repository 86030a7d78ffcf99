"""Test support: a `NodeService` stand-in and in-memory control connections (no reactor)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure
from twisted.test import iosim

from hbtwist.control.client import ClientProtocol, ControlClient
from hbtwist.control.server import ControlProtocol
from hbtwist.control.view import ConfigLike, NodeView
from hbtwist.core import events
from hbtwist.core.engine import Engine

T = TypeVar("T")


class FakeNode:
    """What the control plane reads from `NodeService`, around a real engine.

    Call `emit` with every event the engine reports (e.g. by chaining it into the engine's
    event sink) so subscribers see them as they would in the daemon.
    """

    def __init__(self, engine: Engine, config: ConfigLike) -> None:
        self.engine = engine
        self.config = config
        self.identity = engine.stamper.identity
        self.subscribers: list[Callable[[events.Event], None]] = []

    def emit(self, event: events.Event) -> None:
        """Fan one event out to the subscribers, as `NodeService` does."""
        for subscriber in list(self.subscribers):
            subscriber(event)


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
