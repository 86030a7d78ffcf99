"""Fencing a dead node before its groups are taken over: the resource manager with a fake STONITH
device (the host's `fence`) on a task.Clock."""

from __future__ import annotations

from collections.abc import Sequence

from twisted.internet.task import Clock
from zope.interface import implementer

from hbtwist.core import rscmsg
from hbtwist.core.events import Event, FenceResult
from hbtwist.core.failover import ResourceManager
from hbtwist.core.fencing import RETRY_S
from hbtwist.core.holders import GroupSpec
from hbtwist.core.output import IFailoverOutput
from hbtwist.wire import Message

VIP = "IPaddr2::192.0.2.100/24/eth0"
WEB = "apache"
DEVICE = "external/ipmi"


@implementer(IFailoverOutput)
class Host:
    """Records what the manager sends, starts, fences, reports and says; nothing finishes until
    the test says so."""

    def __init__(self) -> None:
        self.sent: list[Message] = []
        self.started: list[str] = []
        self.fenced: list[str] = []
        self.events: list[Event] = []
        self.lines: list[tuple[str, str]] = []

    def send(self, message: Message) -> None:
        self.sent.append(message)

    def start_group(self, key: str) -> None:
        self.started.append(key)

    def stop_group(self, key: str) -> None:
        raise AssertionError(f"nothing is stopped in these tests ({key})")

    def fence(self, node: str) -> None:
        self.fenced.append(node)

    def report(self, event: Event) -> None:
        self.events.append(event)

    def say(self, level: str, text: str) -> None:
        self.lines.append((level, text))

    def said(self, text: str, level: str | None = None) -> bool:
        """Whether a line containing `text` was said (at `level`, when given)."""
        return any(text in line and level in (None, said) for said, line in self.lines)

    def stonith_results(self) -> list[tuple[str | None, str | None]]:
        """(node, result) of every `stonith` message sent."""
        return [(m.text("node"), m.text("result")) for m in self.sent if m.text("t") == "stonith"]

    def fence_results(self) -> list[tuple[str, str, int]]:
        """(node, result, attempt) of every FenceResult event."""
        return [(e.node, e.result, e.attempt) for e in self.events if isinstance(e, FenceResult)]


def manager(
    local: str = "b",
    nodes: Sequence[str] = ("a", "b"),
    groups: Sequence[GroupSpec] = (GroupSpec(VIP, "a"),),
    failback: str = "on",
    stonith: str | None = DEVICE,
    alive: Sequence[str] | None = None,
) -> tuple[ResourceManager, Host, Clock]:
    """A manager on `local` with the `alive` nodes (default: every other one) up, communication
    not up yet."""
    host, clock = Host(), Clock()
    m = ResourceManager(
        local=local,
        nodes=list(nodes),
        groups=list(groups),
        auto_failback=failback,
        clock=clock,
        output=host,
        stonith=stonith,
    )
    for node in nodes if alive is None else alive:
        if node != local:
            m.node_status(node, "active")
    return m, host, clock


def stable_beside(m: ResourceManager, holdings: dict[str, Sequence[str]]) -> None:
    """Bring `m` up (nice failback) beside peers that report holding `holdings`, stable."""
    m.comm_up()
    for node, keys in holdings.items():
        m.message(node, rscmsg.resource_report(m.held_word(()), True, keys))
    assert m.stable, m.phase


def test_holder_death_is_fenced_before_the_takeover() -> None:
    """The holder dies: `Resetting node a with [type]`, the host is asked to reset it and nothing
    starts; once the reset is OK the result is broadcast and the group is taken over."""
    m, host, _ = manager()
    stable_beside(m, {"a": [VIP]})
    m.node_status("a", "dead")
    assert host.fenced == ["a"]
    assert host.said(f"Resetting node a with [{DEVICE}]", "info")
    assert host.started == [] and host.stonith_results() == []
    assert m.groups[VIP].holder == "a"
    assert m.orphans_for_me() == []

    m.fence_done("a", "OK")
    assert host.fence_results() == [("a", "OK", 1)]
    assert host.stonith_results() == [("a", "OK")]
    assert host.said("Resources being acquired from a.")
    assert host.started == [VIP]
    assert not host.said("No STONITH device configured.")
    m.group_started(VIP, True)
    assert host.said("mach_down takeover complete for node a.")
    assert m.groups[VIP].holder == "b"


def test_failed_reset_is_broadcast_and_retried_every_five_seconds() -> None:
    """`bad` and `badhost` are broadcast, logged at CRIT as not taking the groups over, and the
    reset is tried again 5 s later, until it is OK; nothing starts before."""
    m, host, clock = manager()
    stable_beside(m, {"a": [VIP]})
    m.node_status("a", "dead")
    m.fence_done("a", "bad")
    assert host.stonith_results() == [("a", "bad")]
    assert host.said("STONITH of a failed.  Retrying", "critical")
    assert host.said(f"NOT taken over: {VIP}", "critical")
    clock.advance(RETRY_S - 0.1)
    assert host.fenced == ["a"]
    clock.advance(0.1)
    assert host.fenced == ["a", "a"]
    m.fence_done("a", "badhost")
    clock.advance(RETRY_S)
    assert host.fenced == ["a", "a", "a"]
    assert host.started == []
    m.fence_done("a", "OK")
    assert host.fence_results() == [("a", "bad", 1), ("a", "badhost", 2), ("a", "OK", 3)]
    assert host.stonith_results() == [("a", "bad"), ("a", "badhost"), ("a", "OK")]
    assert host.started == [VIP]
    assert clock.getDelayedCalls() == []


def test_an_unknown_answer_counts_as_bad() -> None:
    """An answer other than OK, bad or badhost is a failed reset (`bad`), never a takeover."""
    m, host, clock = manager()
    stable_beside(m, {"a": [VIP]})
    m.node_status("a", "dead")
    m.fence_done("a", "maybe")
    assert host.stonith_results() == [("a", "bad")] and host.started == []
    m.stop()
    assert clock.getDelayedCalls() == []


def test_node_back_during_retries_ends_them() -> None:
    """The dead node comes back (a restart or a healed partition) while resets fail: the tries
    stop, its group stays recorded as its own and is not started; a late answer is ignored."""
    m, host, clock = manager()
    stable_beside(m, {"a": [VIP]})
    m.node_status("a", "dead")
    m.fence_done("a", "bad")
    m.node_status("a", "active")
    assert host.said("Node a is back: STONITH of a stopped", "warn")
    clock.advance(3 * RETRY_S)
    assert host.fenced == ["a"]
    assert clock.getDelayedCalls() == []
    m.fence_done("a", "OK")
    assert host.started == [] and host.stonith_results() == [("a", "bad")]
    assert m.groups[VIP].holder == "a"


def test_node_back_while_the_reset_runs_ignores_its_answer() -> None:
    """An answer for a node that came back before it arrived starts nothing and sends nothing."""
    m, host, _ = manager()
    stable_beside(m, {"a": [VIP]})
    m.node_status("a", "dead")
    m.node_status("a", "active")
    m.fence_done("a", "OK")
    assert host.started == [] and host.stonith_results() == [] and host.fence_results() == []


def test_returned_nodes_report_settles_the_group() -> None:
    """After the tries stop, the returned node's report that it holds nothing makes the group an
    orphan again, taken by its taker (here this node, the preferred node being away)."""
    m, host, _ = manager(groups=[GroupSpec(VIP, "b")], failback="off")
    stable_beside(m, {"a": [VIP]})
    m.node_status("a", "dead")
    m.node_status("a", "active")
    m.message("a", rscmsg.resource_report("none", True, ()))
    assert host.started == [VIP]


def test_without_a_device_the_takeover_warns_and_sends_n_stnth() -> None:
    """No STONITH device: Heartbeat's two warnings, `stonith result=n_stnth` and the takeover at
    once, with no reset asked."""
    m, host, _ = manager(stonith=None)
    stable_beside(m, {"a": [VIP]})
    m.node_status("a", "dead")
    assert host.fenced == []
    assert host.said("No STONITH device configured.", "warn")
    assert host.said("Shared disks are not protected.", "warn")
    assert host.stonith_results() == [("a", "n_stnth")]
    assert host.started == [VIP]


def test_node_that_gave_its_groups_up_is_not_fenced() -> None:
    """A dead node that reported holding nothing (nice failback) is not reset: its group is
    taken at once."""
    m, host, _ = manager(groups=[GroupSpec(VIP, "a"), GroupSpec(WEB, "b")])
    m.comm_up()
    m.message("a", rscmsg.resource_report("none", True, ()))
    assert host.started == [WEB]
    m.group_started(WEB, True)
    m.node_status("a", "dead")
    assert host.fenced == []
    assert host.said("Dead node a gave up resources.")
    assert host.started == [WEB, VIP]


def test_shutdown_notice_means_no_reset() -> None:
    """A node that announced its shutdown (`shutdone`) is taken over without a reset, even with
    legacy failback, where nothing says what it held."""
    m, host, _ = manager(failback="legacy")
    m.comm_up()
    assert m.stable
    m.fencing.node_shut_down("a")
    m.node_status("a", "dead")
    assert host.fenced == []
    assert host.started == [VIP]


def test_legacy_crash_is_fenced_though_holdings_are_unknown() -> None:
    """With legacy failback nodes report nothing: a crashed node may hold its own groups, so they
    wait for its reset."""
    m, host, _ = manager(failback="legacy")
    m.comm_up()
    m.node_status("a", "dead")
    assert host.fenced == ["a"] and host.started == []
    assert m.groups[VIP].holder == "a"
    m.fence_done("a", "OK")
    assert host.started == [VIP]


def test_node_never_heard_from_is_fenced_before_its_groups_are_taken() -> None:
    """A node declared dead at initdead without ever being up may hold its groups: they are left
    out of the initial acquisition and taken once it is reset."""
    m, host, _ = manager(groups=[GroupSpec(VIP, "a"), GroupSpec(WEB, "b")], alive=())
    m.node_status("a", "dead")
    assert host.fenced == ["a"]
    m.comm_up()
    assert host.started == [WEB]
    m.group_started(WEB, True)
    assert host.said("Initial resource acquisition complete")
    m.fence_done("a", "OK")
    assert host.started == [WEB, VIP]
    assert host.said("Resources being acquired from a.")


def test_death_during_start_up_waits_for_the_reset() -> None:
    """A peer that dies while this node starts, holding a group, is reset before the group is
    started here; the start-up itself goes on."""
    m, host, _ = manager()
    m.comm_up()
    m.message("a", rscmsg.resource_report("local", False, [VIP]))
    m.node_status("a", "dead")
    assert host.fenced == ["a"]
    assert m.stable and host.started == []
    m.fence_done("a", "OK")
    assert host.started == [VIP]


def test_a_peers_stonith_message_and_reports_take_nothing_over() -> None:
    """In a three-node cluster, another node's `stonith result=OK` for the dead node and its
    stable report change nothing: the group waits for this node's own reset."""
    m, host, clock = manager(local="b", nodes=("a", "b", "c"))
    stable_beside(m, {"a": [VIP], "c": []})
    m.node_status("a", "dead")
    m.fence_done("a", "bad")
    m.message("c", rscmsg.stonith_result("a", "OK"))
    m.message("c", rscmsg.resource_report("none", True, ()))
    assert host.started == []
    clock.advance(RETRY_S)
    assert host.fenced == ["a", "a"]
    m.fence_done("a", "OK")
    assert host.started == [VIP]


def test_node_that_is_not_the_taker_does_not_fence() -> None:
    """Only the taker of the dead node's groups resets it; the others leave the groups to it."""
    m, host, _ = manager(local="c", nodes=("a", "b", "c"))
    stable_beside(m, {"a": [VIP], "b": []})
    m.node_status("a", "dead")
    assert host.fenced == [] and host.started == []
    assert not host.said("No STONITH device configured.")


def test_shutdown_during_retries_stops_them() -> None:
    """This node shutting down ends the tries; nothing is taken over afterwards."""
    m, host, clock = manager()
    stable_beside(m, {"a": [VIP]})
    m.node_status("a", "dead")
    m.fence_done("a", "bad")
    finished: list[bool] = []
    m.shutdown(lambda: finished.append(True))
    assert finished == [True]
    clock.advance(3 * RETRY_S)
    assert host.fenced == ["a"] and host.started == []
    assert clock.getDelayedCalls() == []
