"""`ListenerService`: listens on one server endpoint while running, for every inspection port.

A required listener (the control port) that cannot listen stops the daemon's start-up; an
optional one (metrics, manhole) logs one warning line and the node carries on without it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import Deferred, execute
from twisted.internet.interfaces import IListeningPort, IProtocolFactory, IStreamServerEndpoint
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

_log = Logger()

UNIX_BACKLOG = 50


@implementer(IStreamServerEndpoint)
class UnixEndpoint:
    """Listens on a UNIX socket as Twisted's `UNIXServerEndpoint` does (with a PID lock file),
    without loading `twisted.internet.endpoints` and the TLS, stdio and process support it
    brings."""

    def __init__(self, reactor: Any, path: str, mode: int) -> None:
        self.reactor = reactor
        self.path = path
        self.mode = mode

    def listen(self, factory: IProtocolFactory) -> Deferred[IListeningPort]:
        """Listen on the socket; the Deferred fails if the reactor cannot."""
        listening: Deferred[IListeningPort] = execute(
            self.reactor.listenUNIX,
            self.path,
            factory,
            backlog=UNIX_BACKLOG,
            mode=self.mode,
            wantPID=True,
        )
        return listening


class ListenerService(Service):
    """Listens on `endpoint` with `factory` while running; `port` is the port once listening."""

    def __init__(
        self,
        name: str,
        endpoint: IStreamServerEndpoint,
        factory: IProtocolFactory,
        after_listen: Callable[[], None] | None = None,
        *,
        required: bool = True,
        what: str = "Control plane",
        where: str = "",
    ) -> None:
        self.setName(name)
        self.endpoint = endpoint
        self.factory = factory
        self.required = required
        self.what = what
        self.where = where or name
        self.port: IListeningPort | None = None
        self.listening: Deferred[IListeningPort] = Deferred()
        self._after_listen = after_listen

    def startService(self) -> None:  # noqa: N802
        """Start listening; a required listener's failure known at once is raised at once."""
        super().startService()
        failures: list[Failure] = []
        started = self.endpoint.listen(self.factory)
        started.addCallbacks(self._listened, failures.append)
        if not failures:
            return
        if self.required:
            failures[0].raiseException()
        _log.warn(
            "Running without {what}: cannot listen on {endpoint}: {error}",
            what=self.what.lower(),
            endpoint=self.where,
            error=failures[0].getErrorMessage(),
        )

    def _listened(self, port: IListeningPort) -> None:
        self.port = port
        if self._after_listen is not None:
            self._after_listen()
        _log.info("{what} listening on {address}", what=self.what, address=str(port.getHost()))
        self.listening.callback(port)

    def stopService(self) -> Deferred[None] | None:  # noqa: N802
        """Stop listening (a UNIX socket file is removed)."""
        super().stopService()
        port, self.port = self.port, None
        if port is None:
            return None
        stopped: Deferred[None] | None = port.stopListening()
        return stopped
