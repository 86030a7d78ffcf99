"""The release-1 resource protocol answers of a node that holds no resource group."""

from __future__ import annotations

from hbtwist.core.resources import ResourceReporter, resource_report
from hbtwist.wire import Message


def test_report_has_heartbeats_field_order() -> None:
    """The report carries t, rsc_hold, rtype, isstable in that order, as Heartbeat sends it."""
    report = resource_report()
    assert [(f.name, f.value) for f in report] == [
        (b"t", b"resource"),
        (b"rsc_hold", b"none"),
        (b"rtype", b"full"),
        (b"isstable", b"1"),
    ]


def test_peer_starting_is_answered_once_and_own_is_not() -> None:
    """A peer's `starting` gets one report; this node's own `starting` gets none."""
    sent: list[Message] = []
    reporter = ResourceReporter("tw1", sent.append)
    reporter.on_message("hb1", Message.of(("t", "starting")))
    reporter.on_message("tw1", Message.of(("t", "starting")))
    reporter.on_message("hb1", Message.of(("t", "status")))
    assert sent == [resource_report()]
