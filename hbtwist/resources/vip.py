"""The native virtual IP: `IPaddr`, `IPaddr2` and bare-address resources served in process.

Start reads the host's links, addresses and routes over netlink, places the address as the agent
would (`hbtwist.resources.findif`), adds it, and announces it at once: the first gratuitous ARP
leaves before `start` returns, the others follow on the reactor's clock. The placement and the
announcing socket are prepared ahead (when the agent is made, and after each stop): while the
host reports no change to its links, addresses or routes, a start is one netlink request and the
first announcement, and the group runner skips its status check (`idempotent_start`). An IPv6
address is announced once duplicate address detection is over, as `IPaddr2` does. Nothing here
blocks, forks or starts a thread, and no operation raises: every failure is a FAILED result. The
raw socket that announces is kept open between starts, since closing one stalls for an RCU grace
period.

With `lvs_support` (always set by Heartbeat's `IPaddr2` wrapper) a `/32` copy of the address on
an `lo*` interface is removed while the address runs and put back at stop, recorded in the same
file of `$HA_RSCTMP` the agent uses, so either can undo what the other did.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Mapping

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from zope.interface import implementer

from hbtwist.config.model import Resource, ResourcePolicy
from hbtwist.resources.announce import Announcer, ArpSender, NeighbourSender, Sender
from hbtwist.resources.findif import (
    HostTables,
    Link,
    Placement,
    PlacementError,
    find_present,
    holders,
    loopback_copies,
    needs_routes,
    place,
)
from hbtwist.resources.host import IFA_F_NODAD, IFA_F_NOPREFIXROUTE, Host
from hbtwist.resources.interface import AgentContext, IResourceAgent, OperationResult, Outcome
from hbtwist.resources.ipspec import IpSpec, ip_spec
from hbtwist.resources.ocfconf import conf_candidates, find_conf, read_conf

RSCTMP = "/run/resource-agents"
"""`$HA_RSCTMP`, where IPaddr2 records a loopback address it moved away."""
DAD_POLL_MS = 100
DAD_LIMIT_MS = 10_000
"""IPaddr2 waits up to 10 s for an IPv6 address to leave the tentative state, then goes on."""

OcfEnvironment = Callable[[str, str], Mapping[str, str] | None]
"""(agent type, instance) -> the variables of `conf/OCF/<type>/<instance>`, None if absent."""
SenderFactory = Callable[[IpSpec, Link], Sender]

_log = Logger()


def native_ip_agent(
    resource: Resource,
    context: AgentContext,
    ocf_environment: OcfEnvironment | None = None,
    host: Host | None = None,
) -> IResourceAgent | None:
    """The native agent of an IP resource; None when `resource` is not an IP resource, its
    policy turns the native path off, or it needs the agent (see `ipspec.ip_spec`). An agent on
    this host's netlink (no `host` given) is prepared for its first start at once.

    An `OCF::` resource's variables come from `ocf_environment`, by default its instance file.
    """
    policy = context.settings.policy(resource.text)
    if not policy.native_ip:
        return None
    environment = None
    if resource.script == "OCF" and len(resource.args) == 2:
        read = ocf_environment or _instance_files(context)
        try:
            environment = read(resource.args[0], resource.args[1])
        except (OSError, ValueError):
            return None
    spec = ip_spec(resource, environment)
    if not isinstance(spec, IpSpec):
        return None
    if host is not None:
        return NativeIpAgent(resource, spec, context.reactor, policy, host)
    from hbtwist.resources.netlink import NetlinkHost  # pyroute2: only once a native agent is made

    agent = NativeIpAgent(resource, spec, context.reactor, policy, NetlinkHost())
    agent.prepare()
    return agent


def _instance_files(context: AgentContext) -> OcfEnvironment:
    """Reads `conf/OCF/<type>/<instance>` where the OCF agent would find it."""

    def read(agent_type: str, instance: str) -> Mapping[str, str] | None:
        candidates = conf_candidates(context.config_dir, context.heartbeat_dir, agent_type, instance)
        path = find_conf(candidates)
        return None if path is None else read_conf(path)

    return read


def open_sender(spec: IpSpec, link: Link) -> Sender:
    """The raw socket that announces `spec`'s address on `link` (needs root)."""
    if spec.family == socket.AF_INET6:
        return NeighbourSender(link.index, link.mac, spec.ip)
    return ArpSender(link.name, link.mac, spec.ip)


@implementer(IResourceAgent)
class NativeIpAgent:
    """Adds, announces, checks and removes one virtual address through netlink."""

    path = "native"
    idempotent_start = True
    """A start finds the address already there itself: the group runner checks nothing first."""

    def __init__(
        self,
        resource: Resource,
        spec: IpSpec,
        clock: IReactorTime,
        policy: ResourcePolicy,
        host: Host,
        senders: SenderFactory = open_sender,
        rsctmp: str = RSCTMP,
    ) -> None:
        self.resource = resource
        self.spec = spec
        self._clock = clock
        self._host = host
        self._senders = senders
        self._rsctmp = rsctmp
        self._count = policy.arp_count if spec.arp_count is None else spec.arp_count
        self._interval_ms = (
            policy.arp_interval_ms if spec.arp_interval_ms is None else spec.arp_interval_ms
        )
        self._announcer: Announcer | None = None
        self._sender: Sender | None = None
        self._sender_key: tuple[int, str, bytes] | None = None
        self._dad_call: IDelayedCall | None = None
        self._dad_result: Deferred[OperationResult] | None = None
        self._prepared: Placement | None = None
        """Where a start adds the address while the host has not changed (see `prepare`)."""

    @property
    def announcing(self) -> bool:
        """Whether announcements (or the wait for IPv6 address detection) are still pending."""
        return self._dad_call is not None or (self._announcer is not None and self._announcer.pending)

    def prepare(self) -> None:
        """Work out where the address goes and open the announcing socket ahead of a start:
        while no link, address or route of the host changes, a start is then one netlink
        request and the first announcement. Nothing is kept when the address is there already,
        a loopback copy must move or the interface is down; failures are left to the start."""
        self._prepared = None
        spec = self.spec
        try:
            self._host.changed()
            tables = self._host.tables(spec.family, routes=needs_routes(spec))
            placement = place(spec, tables)
            if (
                not placement.link.up
                or find_present(spec, tables, placement) is not None
                or (spec.lvs_support and loopback_copies(spec, tables))
            ):
                return
            if self._announces(placement.link):
                self._sender_for(placement.link)
        except Exception:  # noqa: BLE001 - the start reads the host again and reports
            return
        self._prepared = placement

    def start(self) -> Deferred[OperationResult]:
        """Add the address unless it is there already, then announce it."""
        began = self._clock.seconds()
        self._cancel_pending("started again")
        spec = self.spec
        placement = self._add_prepared()
        if placement is None:
            try:
                tables = self._host.tables(spec.family, routes=needs_routes(spec))
                placement = place(spec, tables)
                if find_present(spec, tables, placement) is not None:
                    return self._done("start", began, Outcome.OK, f"{self._where(placement)} present")
                if spec.lvs_support:
                    self._move_loopback_copies(tables)
                self._host.add(spec.ip, placement, self._flags())
                if not placement.link.up:
                    self._host.set_up(placement.link)
            except PlacementError as error:
                return self._done("start", began, Outcome.FAILED, str(error))
            except Exception as error:  # noqa: BLE001 - every failure is a result
                return self._done("start", began, Outcome.FAILED, f"adding {spec.ip}: {error}")
        if spec.family == socket.AF_INET6 and not spec.nodad:
            return self._after_detection(placement, began)
        return succeed(self._announce(placement, began))

    def _add_prepared(self) -> Placement | None:
        """The prepared placement, with the address added there, when nothing changed since it
        was worked out; None when the start must read the host: nothing prepared, a change, or
        the add refused (the address there already, the interface gone)."""
        placement, self._prepared = self._prepared, None
        if placement is None:
            return None
        try:
            if self._host.changed():
                return None
            self._host.add(self.spec.ip, placement, self._flags())
        except Exception:  # noqa: BLE001 - the full start decides
            return None
        return placement

    def stop(self) -> Deferred[OperationResult]:
        """Drop pending announcements and delete the address (absent is success)."""
        began = self._clock.seconds()
        self._cancel_pending("stopped")
        try:
            tables = self._host.tables(self.spec.family, routes=False)
            found = holders(self.spec, tables)
            for address in found:
                self._host.delete(address)
        except Exception as error:  # noqa: BLE001
            return self._done("stop", began, Outcome.FAILED, f"removing {self.spec.ip}: {error}")
        if self.spec.lvs_support:
            self._restore_loopback()
        self.prepare()
        detail = f"{self.spec.ip} removed" if found else f"{self.spec.ip} not present"
        return self._done("stop", began, Outcome.OK, detail)

    def status(self) -> Deferred[OperationResult]:
        """OK when the address is on its interface, else NOT_RUNNING."""
        began = self._clock.seconds()
        try:
            found = holders(self.spec, self._host.tables(self.spec.family, routes=False))
        except Exception as error:  # noqa: BLE001
            return self._done("monitor", began, Outcome.FAILED, f"reading addresses: {error}")
        if found:
            return self._done("monitor", began, Outcome.OK, f"{self.spec.ip} running")
        return self._done("monitor", began, Outcome.NOT_RUNNING, f"{self.spec.ip} not running")

    def _flags(self) -> int:
        flags = IFA_F_NOPREFIXROUTE if self.spec.noprefixroute else 0
        if self.spec.nodad and self.spec.family == socket.AF_INET6:
            flags |= IFA_F_NODAD
        return flags

    def _where(self, placement: Placement) -> str:
        name = placement.label or placement.link.name
        return f"{self.spec.ip}/{placement.prefix} on {name}"

    def _announce(self, placement: Placement, began: float) -> OperationResult:
        link = placement.link
        where = self._where(placement)
        if not self._announces(link):
            return self._result("start", began, Outcome.OK, f"{where}, not announced")
        try:
            self._announcer = Announcer(
                self._clock,
                self._sender_for(link),
                self._count,
                self._interval_ms,
                self._announce_failed,
            )
            self._announcer.start()
        except OSError as error:
            self._announcer = None
            self._remove_added(placement)
            detail = f"announcing {self.spec.ip} on {link.name}: {error} (raw sockets need root)"
            return self._result("start", began, Outcome.FAILED, detail)
        return self._result("start", began, Outcome.OK, f"{where}, announced")

    def _announces(self, link: Link) -> bool:
        """Whether the address is announced on `link` (not on a loopback, nor without a MAC)."""
        return not (link.loopback or link.name.startswith("lo") or not link.mac or self._count < 1)

    def _sender_for(self, link: Link) -> Sender:
        """The announcing socket for `link`, opened once and kept (see `Announcer`)."""
        key = (link.index, link.name, link.mac)
        if self._sender is None or self._sender_key != key:
            previous, self._sender = self._sender, None
            if previous is not None:
                previous.close()
            self._sender = self._senders(self.spec, link)
            self._sender_key = key
        return self._sender

    def _announce_failed(self, error: OSError) -> None:
        _log.warn("Announcing {ip} failed, no more announcements: {error}", ip=self.spec.ip, error=error)

    def _after_detection(self, placement: Placement, began: float) -> Deferred[OperationResult]:
        """Wait for IPv6 duplicate address detection, then announce."""
        result: Deferred[OperationResult] = Deferred()
        self._dad_result = result
        deadline = began + DAD_LIMIT_MS / 1000
        self._poll_detection(placement, began, deadline)
        return result

    def _poll_detection(self, placement: Placement, began: float, deadline: float) -> None:
        self._dad_call = None
        try:
            tables = self._host.tables(self.spec.family, routes=False)
            address = find_present(self.spec, tables, placement)
            if address is not None and address.tentative and self._clock.seconds() < deadline:
                self._dad_call = self._clock.callLater(
                    DAD_POLL_MS / 1000, self._poll_detection, placement, began, deadline
                )
                return
            if address is None:
                outcome = self._result("start", began, Outcome.FAILED, f"{self.spec.ip} vanished")
            elif address.dadfailed:
                self._host.delete(address)
                detail = f"IPv6 address collision {self.spec.ip} [DAD]"
                outcome = self._result("start", began, Outcome.FAILED, detail)
            else:
                outcome = self._announce(placement, began)
        except Exception as error:  # noqa: BLE001
            detail = f"waiting for {self.spec.ip} to be usable: {error}"
            outcome = self._result("start", began, Outcome.FAILED, detail)
        self._fire_detection(outcome)

    def _fire_detection(self, outcome: OperationResult) -> None:
        result, self._dad_result = self._dad_result, None
        if result is not None:
            result.callback(outcome)

    def _cancel_pending(self, why: str) -> None:
        if self._announcer is not None:
            self._announcer.cancel()
            self._announcer = None
        if self._dad_call is not None:
            self._dad_call.cancel()
            self._dad_call = None
            self._fire_detection(
                OperationResult("start", Outcome.FAILED, 0, f"{why} before {self.spec.ip} was usable")
            )

    def _remove_added(self, placement: Placement) -> None:
        """Undo an add whose announcement failed, so a failed start leaves nothing behind."""
        try:
            tables = self._host.tables(self.spec.family, routes=False)
            address = find_present(self.spec, tables, placement)
            if address is not None:
                self._host.delete(address)
        except Exception as error:  # noqa: BLE001
            _log.warn("Could not remove {ip}: {error}", ip=self.spec.ip, error=error)

    def _move_loopback_copies(self, tables: HostTables) -> None:
        """IPaddr2's `remove_conflicting_loopback`: record, then delete, each `lo*` `/32` copy
        (a record that cannot be written is logged, and the copy will not come back)."""
        for address in loopback_copies(self.spec, tables):
            try:
                with open(self._record_path(), "w") as record:
                    record.write(f"{self.spec.ip} 32 255.255.255.255 lo\n")
            except OSError as error:
                _log.warn(
                    "Could not save conflicting loopback {ip}: {error}", ip=self.spec.ip, error=error
                )
            self._host.delete(address)

    def _restore_loopback(self) -> None:
        """IPaddr2's `restore_loopback`: put back the address the record names, then drop it."""
        path = self._record_path()
        if not os.path.exists(path):
            return
        try:
            with open(path) as record:
                ip, prefix, broadcast, nic = record.read().split()
            tables = self._host.tables(self.spec.family, routes=False)
            link = tables.link(nic)
            if link is None:
                raise PlacementError(f"no interface {nic}")
            self._host.add(ip, Placement(link, int(prefix), broadcast, None), 0)
            os.unlink(path)
        except Exception as error:  # noqa: BLE001 - the stop itself succeeded
            _log.warn("Could not restore loopback {ip}: {error}", ip=self.spec.ip, error=error)

    def _record_path(self) -> str:
        return os.path.join(self._rsctmp, self.spec.ip)

    def _result(self, operation: str, began: float, outcome: Outcome, detail: str) -> OperationResult:
        elapsed = round((self._clock.seconds() - began) * 1000)
        return OperationResult(operation, outcome, max(elapsed, 0), detail)

    def _done(
        self, operation: str, began: float, outcome: Outcome, detail: str
    ) -> Deferred[OperationResult]:
        return succeed(self._result(operation, began, outcome, detail))
