"""The node service: opens the media, feeds the node's cores, and fans out what they report."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from typing import Any

from twisted.application import service
from twisted.internet.defer import Deferred
from twisted.logger import Logger
from zope.interface import implementer

from hbtwist import __version__
from hbtwist.config import ClusterConfig
from hbtwist.config.media import ping_nodes
from hbtwist.control.access import (
    EventSink,
    IClusterNode,
    MessageListener,
    Unsubscribe,
    add_callback,
)
from hbtwist.control.wording import log_event
from hbtwist.core.events import Event
from hbtwist.core.node import NodeCore
from hbtwist.core.output import ICoreOutput
from hbtwist.core.snapshot import FailoverSnapshot, NodeSnapshot
from hbtwist.core.stamp import Identity, Stamper
from hbtwist.core.timing import Timing, heartbeat_copies
from hbtwist.daemon.groups import GroupHost, group_specs
from hbtwist.daemon.loadavg import CachedLoadavg
from hbtwist.daemon.realtime import enter_realtime
from hbtwist.daemon.testhook import LossHookControl
from hbtwist.media.guard import send_all, start_links
from hbtwist.media.interface import (
    IMediumLink,
    IMediumType,
    MediumContext,
    MediumUnavailable,
    Outgoing,
)
from hbtwist.media.routes import UnicastRoutes
from hbtwist.wire import Message, encode_datagram

_log = Logger()

START_FAILED_EXIT_STATUS = 1
"""Exit status when a configured medium cannot be opened at start."""

BAD_PACKET_LOG_FIRST = 10
BAD_PACKET_LOG_EVERY = 1000
"""With `log_badpack`, the first ten dropped packets of each reason are logged, then one in 1000."""


def timing_of(config: ClusterConfig) -> Timing:
    """The membership timers from ha.cf."""
    hacf = config.hacf
    return Timing(
        hacf.keepalive_ms, hacf.deadtime_ms, hacf.warntime_ms, hacf.initdead_ms, hacf.deadping_ms
    )


@implementer(IClusterNode, ICoreOutput)
class NodeService(service.Service):
    """One cluster node: every configured medium, the node's cores, and the event fan-out."""

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
        self.test_hook = LossHookControl(config.config_dir, reactor)
        self._last_outgoing: Outgoing | None = None
        """The last datagram encoded: a heartbeat copy sends the same message again."""
        self._subscribers: list[EventSink] = []
        self._listeners: list[MessageListener] = []
        self._keyring = config.keyring
        context = MediumContext(
            reactor=reactor,
            deliver=self._datagram_received,
            node=identity.name,
            bind_address=bind_address,
            keepalive=config.hacf.keepalive_ms / 1000,
        )
        self.links: list[IMediumLink] = [
            medium_types[medium.kind].open(medium, context) for medium in config.hacf.media
        ]
        self._routes = UnicastRoutes(self.links)
        hacf = config.hacf
        pings = ping_nodes(hacf.media)
        stamper = Stamper(
            identity,
            config.keyring,
            ttl=hacf.hopfudge + len(hacf.nodes) + len(pings),
            inner_auth=hacf.msgfmt == "classic",
            wallclock=reactor.seconds,
            loadavg=CachedLoadavg(reactor.seconds),
        )
        self.groups = GroupHost(config, reactor, self.report)
        media = [link.name for link in self.links if link.name not in pings]
        self.core = NodeCore(
            stamper=stamper,
            nodes=hacf.nodes,
            links=media,
            timing=timing_of(config),
            clock=reactor,
            output=self,
            autojoin=hacf.autojoin != "none",
            max_rexmit_delay_ms=hacf.max_rexmit_delay_ms,
            groups=group_specs(config),
            auto_failback=str(hacf.auto_failback),
            actions=self.groups,
            heartbeat_copies=heartbeat_copies(timing_of(config), len(set(media))),
            stonith_device=hacf.stonith.type if hacf.stonith is not None else None,
            ping_nodes=pings,
        )
        self.groups.manager = self.core.resources

    def startService(self) -> None:  # noqa: N802
        """Open every medium, then start heartbeating; a medium that cannot open ends the
        process with status 1 and one critical log line (no traceback)."""
        try:
            start_links(self.links)
        except MediumUnavailable as error:
            _log.critical("Heartbeat not started: {error}", error=error)
            raise SystemExit(START_FAILED_EXIT_STATUS) from None
        super().startService()
        _log.info(
            "Configuration validated. Starting heartbeat {version}", version=f"hbtwist {__version__}"
        )
        enter_realtime(self.config.hacf.realtime, self.config.hacf.rtprio)
        self.test_hook.load()
        self.test_hook.watch_sighup()
        self.core.test_drop = self.test_hook.drops_received
        _log.info("Heartbeat generation: {generation}", generation=self.identity.generation)
        self.core.start()

    def stopService(self) -> Deferred[None]:  # noqa: N802
        """Release every resource group, then tell the peers (`shutdone`) and close the media."""
        _log.info("Heartbeat shutdown in progress. ({pid})", pid=os.getpid())
        released: Deferred[None] = Deferred()
        self.core.resources.shutdown(lambda: released.callback(None))
        released.addCallback(lambda _: self._finish_shutdown())
        return released

    def _finish_shutdown(self) -> None:
        self.test_hook.stop_watching()
        self.groups.cancel()
        self.core.shutdown()
        self.core.stop()
        for link in self.links:
            link.stop()
        _log.info("{node} Heartbeat shutdown complete.", node=self.identity.name)
        super().stopService()

    # IClusterNode: what the control plane may read and do

    def snapshot(self) -> NodeSnapshot:
        """The node's state now, frozen."""
        return self.core.snapshot()

    def parameter(self, name: str) -> str | None:
        """Heartbeat's `getparm` value of the ha.cf setting `name`."""
        return self.config.hacf.parameter(name)

    def subscribe(self, sink: EventSink) -> Unsubscribe:
        """Call `sink` with every event from now on; the returned function stops that."""
        return add_callback(self._subscribers, sink)

    def listen(self, listener: MessageListener) -> Unsubscribe:
        """Call `listener` with every cluster message from now on; the returned function stops that."""
        return add_callback(self._listeners, listener)

    def submit(self, messages: Sequence[Message]) -> None:
        """Queue application messages, in order, for the cluster."""
        for message in messages:
            self.core.submit(message)

    def resources(self) -> FailoverSnapshot:
        """The resource manager's state now, with each resource's last operation."""
        snapshot = self.core.resources.snapshot(self.groups.resources_of)
        return dataclasses.replace(snapshot, operations=self.groups.operation_counts())

    def standby(self, which: str) -> str | None:
        """`hb_standby which`: None when the request was sent, else why not."""
        return self.core.resources.standby.request(which)

    def takeover(self, which: str) -> str | None:
        """`hb_takeover which`: None when the request was sent, else why not."""
        return self.core.resources.standby.request_takeover(which)

    # ICoreOutput: what the cores hand out

    def transmit(self, message: Message) -> None:
        """Send one stamped message on every medium (unless the test hook drops it)."""
        self._send(message, self.links)

    def transmit_to(self, message: Message, node: str) -> None:
        """Send one stamped message that only `node` reads, skipping the unicast media known
        to reach other nodes only."""
        self._send(message, self._routes.links_to(node))

    def heard_from(self, node: str, source: object) -> None:
        """Learn which unicast links reach `node` from the address its status came from."""
        self._routes.heard(node, source)

    def _send(self, message: Message, links: Sequence[IMediumLink]) -> None:
        if self.test_hook.drops_sent():
            return
        last = self._last_outgoing
        if last is None or last.message is not message:
            last = Outgoing(message, encode_datagram(message, self._keyring), self._keyring)
            self._last_outgoing = last
            self.core.sent(last.datagram)
        send_all(links, last)

    def deliver(self, sender: str, message: Message) -> None:
        """Hand one cluster message to every listener."""
        for listener in list(self._listeners):
            listener(sender, message)

    def report(self, event: Event) -> None:
        """Log one event in Heartbeat's wording and hand it to every subscriber."""
        log_event(_log, event, self.identity.name)
        for subscriber in list(self._subscribers):
            subscriber(event)

    def rejected(self, reason: str, total: int, link: str, source: object, detail: str) -> None:
        """Log a dropped datagram when ha.cf asks for it (`log_badpack`), rate-limited."""
        if not self.config.hacf.log_badpack:
            return
        if total <= BAD_PACKET_LOG_FIRST or total % BAD_PACKET_LOG_EVERY == 0:
            _log.warn(
                "Dropped {reason} packet #{total} on {link} from {source}: {error}",
                reason=reason.replace("_", " "),
                total=total,
                link=link,
                source=source,
                error=detail,
            )

    def _datagram_received(self, data: bytes, link: str, source: object) -> None:
        self.core.datagram_received(data, link, source)
