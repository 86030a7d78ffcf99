"""The daemon's event loop: Twisted's epoll reactor, dispatching ready descriptors directly.

Twisted's epoll reactor runs every read or write inside a legacy logging context (the
descriptor's log prefix, kept for `twisted.python.log.msg` lines). A node wakes for a datagram
hundreds of times a second, and that context, built and torn down for each, was a tenth of the
daemon's CPU. hbtwist logs through `twisted.logger`, which does not read that context; this
reactor keeps everything else of the epoll reactor, and still logs what a dispatch raises. A
datagram socket that is only readable (`hbtwist.media.dgram`, most of a node's wakeups) has its
`doRead` called straight away: it checks its own descriptor and handles its own errors.
"""

from __future__ import annotations

import sys
from select import EPOLLIN
from typing import Any

from twisted.internet.epollreactor import EPollReactor
from twisted.logger import Logger
from twisted.python.failure import Failure

from hbtwist.media.dgram import DatagramSocket

_log = Logger()


class HeartbeatReactor(EPollReactor):
    """The epoll reactor without a logging context around each descriptor's read or write."""

    def doPoll(self, timeout: float | None) -> None:  # noqa: N802
        """Wait up to `timeout` seconds (None: until something happens) and dispatch what is ready."""
        try:
            ready = self._poller.poll(-1 if timeout is None else timeout, len(self._selectables))
        except InterruptedError:
            return
        selectables = self._selectables
        for fd, event in ready:
            selectable = selectables.get(fd)
            if selectable is None:
                continue
            if event == EPOLLIN and selectable.__class__ is DatagramSocket:
                try:
                    selectable.doRead()
                except Exception as error:
                    self._read_failed(selectable, error)
            else:
                self._dispatch(selectable, fd, event)

    doIteration = doPoll

    def _read_failed(self, selectable: DatagramSocket, error: Exception) -> None:
        """A datagram socket's read raised: log it and close the socket, as a dispatch would."""
        _log.failure("Reading {selectable!r} failed", Failure(error), selectable=selectable)
        try:
            self._disconnectSelectable(selectable, error, True)
        except Exception:
            _log.failure("Closing {selectable!r} failed", selectable=selectable)

    def _dispatch(self, selectable: Any, fd: int, event: int) -> None:
        try:
            self._doReadOrWrite(selectable, fd, event)
        except Exception:
            _log.failure(
                "Dispatching {event:#x} to {selectable!r} failed", event=event, selectable=selectable
            )


def install_if_unset() -> bool:
    """Install HeartbeatReactor as the global reactor unless one is already installed (a
    `twistd --reactor` choice, or anything that imported the reactor); True if installed."""
    if "twisted.internet.reactor" in sys.modules:
        return False
    from twisted.internet.main import installReactor

    installReactor(HeartbeatReactor())
    return True
