"""The `OnlyForTesting` packet-loss hook of a running node: read at start and again on SIGHUP
(what `TestHeartbeatComm` asks with its reload), applied to what the node sends and receives."""

from __future__ import annotations

import random
import signal
from types import FrameType
from typing import Any

from twisted.logger import Logger

from hbtwist.config.testhook import LossHook, read_test_hook

_log = Logger()


class LossHookControl:
    """The test hook now in force (None: none) and the SIGHUP handler that re-reads it."""

    def __init__(self, config_dir: str, reactor: Any, rng: random.Random | None = None) -> None:
        self._config_dir = config_dir
        self._reactor = reactor
        self._rng = rng or random.Random()
        self.hook: LossHook | None = None
        self._previous_handler: Any = None

    def load(self) -> None:
        """Read `OnlyForTesting` again; a file with an error is logged and not used."""
        hook, problems = read_test_hook(self._config_dir)
        for problem in problems:
            _log.error("{problem}", problem=problem)
        if hook is not None:
            _log.warn(
                "Enabling Test Code (xmitloss={xmit}, rcvloss={rcv}, allownodes={allow})",
                xmit=hook.xmitloss,
                rcv=hook.rcvloss,
                allow=hook.allownodes or "none",
            )
        elif self.hook is not None:
            _log.info("Disabling Test Code")
        self.hook = hook

    def drops_sent(self) -> bool:
        """Whether the hook drops one outgoing datagram."""
        return self.hook is not None and self.hook.drops_sent(self._rng)

    def drops_received(self, sender: str) -> bool:
        """Whether the hook drops one message from node `sender`."""
        return self.hook is not None and self.hook.drops_received(sender, self._rng)

    def watch_sighup(self) -> None:
        """Re-read the hook on every SIGHUP, in the reactor thread."""
        self._previous_handler = signal.signal(signal.SIGHUP, self._on_sighup)

    def stop_watching(self) -> None:
        """Put back the SIGHUP handler found by `watch_sighup`."""
        if self._previous_handler is not None:
            signal.signal(signal.SIGHUP, self._previous_handler)
            self._previous_handler = None

    def _on_sighup(self, signum: int, frame: FrameType | None) -> None:
        self._reactor.callFromThread(self.load)
