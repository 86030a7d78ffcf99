"""The node service: opens the media, feeds the heartbeat engine, and reports what it sees."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from twisted.application import service
from twisted.logger import Logger

from hbtwist import __version__
from hbtwist.config import ClusterConfig
from hbtwist.core import events
from hbtwist.core.engine import Engine, Timing
from hbtwist.core.stamp import CachedLoadavg, Identity, Stamper
from hbtwist.control.wording import log_event
from hbtwist.media.interface import IMediumLink, IMediumType, MediumContext, Outgoing
from hbtwist.core.resources import ResourceReporter
from hbtwist.wire import (
    AuthenticationFailed,
    Message,
    WireError,
    decode_datagram,
    encode_datagram,
)

_log = Logger()


def timing_of(config: ClusterConfig) -> Timing:
    """The engine timers from ha.cf."""
    hacf = config.hacf
    return Timing(hacf.keepalive_ms, hacf.deadtime_ms, hacf.warntime_ms, hacf.initdead_ms)


class NodeService(service.Service):
    """One cluster node: every configured medium, the engine, and the event fan-out."""

    name = "node"

    def __init__(
        self,
        config: ClusterConfig,
        identity: Identity,
        medium_types: Mapping[str, IMediumType],
        reactor: Any,
        bind_address: str | None = None,
    ) -> None:
        self.config = config
        self.identity = identity
        self.subscribers: list[Callable[[events.Event], None]] = []
        self.message_listeners: list[Callable[[str, Message], None]] = []
        """Called with (sender, message) for every cluster message, in each sender's order."""
        self._reactor = reactor
        self._keyring = config.keyring
        context = MediumContext(
            reactor=reactor, deliver=self._datagram_received, node=identity.name, bind_address=bind_address
        )
        self.links: list[IMediumLink] = [
            medium_types[medium.kind].open(medium, context) for medium in config.hacf.media
        ]
        hacf = config.hacf
        stamper = Stamper(
            identity,
            config.keyring,
            ttl=hacf.hopfudge + len(hacf.nodes),
            inner_auth=hacf.msgfmt == "classic",
            wallclock=reactor.seconds,
            loadavg=CachedLoadavg(reactor.seconds),
            uuid_of=self._uuid_of,
        )
        self.engine = Engine(
            stamper=stamper,
            nodes=hacf.nodes,
            links=[link.name for link in self.links],
            timing=timing_of(config),
            clock=reactor,
            send=self._send,
            emit=self._emit,
            deliver=self._on_message,
            autojoin=hacf.autojoin != "none",
            max_rexmit_delay_ms=hacf.max_rexmit_delay_ms,
        )
        self.message_listeners.append(ResourceReporter(identity.name, self.engine.submit).on_message)

    def startService(self) -> None:  # noqa: N802
        super().startService()
        _log.info(
            "Configuration validated. Starting heartbeat {version}", version=f"hbtwist {__version__}"
        )
        _log.info("Heartbeat generation: {generation}", generation=self.identity.generation)
        for link in self.links:
            link.start()
        self.engine.start()

    def stopService(self) -> None:  # noqa: N802
        _log.info("Heartbeat shutdown in progress. ({pid})", pid=os.getpid())
        self.engine.shutdown()
        self.engine.stop()
        for link in self.links:
            link.stop()
        _log.info("{node} Heartbeat shutdown complete.", node=self.identity.name)
        super().stopService()

    def _uuid_of(self, node: str) -> bytes | None:
        peer = self.engine.peers.get(node)
        return None if peer is None else peer.uuid

    def _send(self, message: Message) -> None:
        outgoing = Outgoing(message, encode_datagram(message, self._keyring), self._keyring)
        for link in self.links:
            link.send(outgoing)

    def _datagram_received(self, data: bytes, link: str, source: object) -> None:
        try:
            message = decode_datagram(data, self._keyring)
        except AuthenticationFailed as error:
            self._drop("bad_auth", link, source, error)
            return
        except WireError as error:
            self._drop("malformed", link, source, error)
            return
        self.engine.receive(message, link)

    def _drop(self, reason: str, link: str, source: object, error: Exception) -> None:
        counters = self.engine.counters
        counters[f"dropped.{reason}"] += 1
        total = counters[f"dropped.{reason}"]
        if self.config.hacf.log_badpack and (total <= 10 or total % 1000 == 0):
            _log.warn(
                "Dropped {reason} packet #{total} on {link} from {source}: {error}",
                reason=reason.replace("_", " "),
                total=total,
                link=link,
                source=source,
                error=error,
            )

    def _on_message(self, sender: str, message: Message) -> None:
        for listener in list(self.message_listeners):
            listener(sender, message)

    def _emit(self, event: events.Event) -> None:
        log_event(_log, event, self.identity.name)
        for subscriber in list(self.subscribers):
            subscriber(event)
