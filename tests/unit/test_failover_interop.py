"""The resource manager against a Heartbeat 3.0.6 peer: its messages, without hbtwist's fields."""

from __future__ import annotations

from twisted.internet.task import Clock
from zope.interface import implementer

from hbtwist.core import rscmsg
from hbtwist.core.events import Event
from hbtwist.core.failover import ResourceManager
from hbtwist.core.holders import GroupSpec, taker
from hbtwist.core.output import IFailoverOutput
from hbtwist.wire import Message

VIP = "IPaddr2::192.0.2.100/24/eth0"


@implementer(IFailoverOutput)
class Recorder:
    """Records what the manager sends, starts, stops and says; operations finish when told."""

    def __init__(self) -> None:
        self.sent: list[Message] = []
        self.started: list[str] = []
        self.stopped: list[str] = []
        self.lines: list[str] = []

    def send(self, message: Message) -> None:
        self.sent.append(message)

    def start_group(self, key: str) -> None:
        self.started.append(key)

    def stop_group(self, key: str) -> None:
        self.stopped.append(key)

    def report(self, event: Event) -> None:
        """Events are not examined here."""

    def say(self, level: str, text: str) -> None:
        self.lines.append(text)

    def kinds(self) -> list[tuple[str | None, str | None]]:
        """(t, info) of every message sent so far."""
        return [(m.text("t"), m.text("info")) for m in self.sent]


def manager(
    local: str = "tw1", preferred: str = "hb1", failback: str = "on"
) -> tuple[ResourceManager, Recorder, Clock]:
    """A manager on `local` beside the Heartbeat node `hb1`, communication up, hb1 alive."""
    out, clock = Recorder(), Clock()
    m = ResourceManager(
        local=local,
        nodes=["hb1", "tw1"],
        groups=[GroupSpec(VIP, preferred)],
        auto_failback=failback,
        clock=clock,
        output=out,
    )
    m.node_status("hb1", "active")
    return m, out, clock


def heartbeat(kind: str, **fields: str) -> Message:
    """A release-1 message as Heartbeat 3.0.6 builds it (its own field order)."""
    return Message.of(("t", kind), *fields.items())


def test_report_keeps_heartbeats_field_order() -> None:
    """hbtwist's report carries Heartbeat's fields first, in its order, then its own field."""
    report = rscmsg.resource_report("local", True, [VIP])
    assert [f.name for f in report] == [b"t", b"rsc_hold", b"rtype", b"isstable", b"hbtwist_groups"]
    assert report.text("hbtwist_groups") == f"1 {VIP}"


def test_heartbeat_peers_stable_report_lets_start_up_finish() -> None:
    """A starting node waits for the Heartbeat peer's report, then takes its local group."""
    m, out, _ = manager(preferred="tw1")
    m.comm_up()
    assert out.kinds() == [("starting", None)]
    m.message("hb1", heartbeat("resource", rsc_hold="none", rtype="full", isstable="1"))
    assert out.started == [VIP]
    assert "remote resource transition completed." in out.lines


def test_heartbeat_holding_foreign_keeps_our_group_there() -> None:
    """hb1 says it holds `foreign` (our group): we do not start it, and wait for failback."""
    m, out, _ = manager(preferred="tw1")
    m.comm_up()
    m.message("hb1", heartbeat("resource", rsc_hold="foreign", rtype="full", isstable="1"))
    assert out.started == []
    assert m.groups[VIP].holder == "hb1"


def test_unstable_heartbeat_peer_is_waited_for_ten_seconds_at_most() -> None:
    """A peer in transition that never settles is given Heartbeat's 10 s, then we acquire."""
    m, out, clock = manager(preferred="tw1")
    m.comm_up()
    m.message("hb1", heartbeat("resource", rsc_hold="local", rtype="full", isstable="0"))
    clock.advance(9.9)
    assert out.started == []
    clock.advance(0.2)
    assert out.started == [VIP]


def test_heartbeat_standby_is_answered_and_the_group_taken() -> None:
    """hb1 runs `hb_standby`: we answer `other`, take its group on `done`, and answer `done`."""
    m, out, _ = manager()
    m.comm_up()
    m.message("hb1", heartbeat("resource", rsc_hold="local", rtype="full", isstable="1"))
    assert m.groups[VIP].holder == "hb1"
    m.message("hb1", heartbeat("ask_resources", rsc_hold="all", info="me"))
    assert out.kinds()[-1] == ("ask_resources", "other")
    m.message("hb1", heartbeat("resource", rsc_hold="none", rtype="full", isstable="0", info="standby"))
    assert out.started == []
    m.message("hb1", heartbeat("ask_resources", rsc_hold="all", info="done"))
    assert out.started == [VIP]
    m.group_started(VIP, True)
    assert ("ask_resources", "done") in out.kinds()
    assert "Standby resource acquisition done [all]." in out.lines


def test_auto_failback_to_a_returning_heartbeat_node() -> None:
    """We hold hb1's group; hb1 restarts (`starting`, then stable): we give it back by standby."""
    m, out, _ = manager()
    m.node_status("hb1", "dead")
    m.comm_up()
    m.group_started(VIP, True)
    m.node_status("hb1", "active")
    m.message("hb1", heartbeat("starting"))
    assert out.sent[-1].text("rsc_hold") == "foreign"
    m.message("hb1", heartbeat("resource", rsc_hold="none", rtype="full", isstable="1"))
    assert out.kinds()[-1] == ("ask_resources", "me")
    assert out.sent[-1].text("rsc_hold") == "foreign"
    m.message("hb1", heartbeat("ask_resources", rsc_hold="foreign", info="other"))
    assert out.stopped == [VIP]
    m.group_stopped(VIP, True)
    assert out.kinds()[-1] == ("ask_resources", "done")
    m.message("hb1", heartbeat("ask_resources", rsc_hold="foreign", info="done"))
    assert "Other node completed standby takeover of foreign resources." in out.lines
    assert m.stable and m.holding() == "none"


def test_taker_rule_follows_node_order_from_the_preferred_node() -> None:
    """The taker is the preferred node, else the next alive node after it, wrapping around."""
    group = GroupSpec(VIP, "b")
    order = ["a", "b", "c", "d"]
    assert taker(group, order, {"a", "b", "c", "d"}) == "b"
    assert taker(group, order, {"a", "c", "d"}) == "c"
    assert taker(group, order, {"a", "d"}) == "d"
    assert taker(group, order, {"a"}) == "a"
    assert taker(group, order, {"a", "c"}, exclude={"c"}) == "a"
    assert taker(group, order, set()) is None


def test_messages_name_only_configured_groups() -> None:
    """A forged group list cannot name groups the configuration does not have."""
    message = rscmsg.resource_report("all", True, [VIP, "$(reboot)"])
    assert rscmsg.decode_groups(message, {VIP}) == frozenset({VIP})
    broken = Message.of(("t", "resource"), ("hbtwist_groups", "7 x"))
    assert rscmsg.decode_groups(broken, {VIP}) is None


def test_group_given_up_by_a_peer_goes_to_its_taker() -> None:
    """A stable report no longer claiming a group (the peer lost it) makes its taker start it."""
    m, out, _ = manager(preferred="tw1", failback="off")
    m.comm_up()
    m.message("hb1", heartbeat("resource", rsc_hold="foreign", rtype="full", isstable="1"))
    assert out.started == [] and m.groups[VIP].holder == "hb1"
    m.message("hb1", heartbeat("resource", rsc_hold="none", rtype="full", isstable="1"))
    assert out.started == [VIP]
    m.group_started(VIP, True)
