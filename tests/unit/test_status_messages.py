"""The status a node sends each keepalive: its fields, and that it is rebuilt only on change."""

from __future__ import annotations

from hbtwist.core.status import PINGS_FIELD, StatusMessages
from hbtwist.wire import Message


def test_fields_in_heartbeats_order() -> None:
    """`t st dt protocol hbtwist`, deadtime in hex, and the ping count only when asked for."""
    statuses = StatusMessages()
    plain = statuses.message("active", 500, flow_control=True, advertise_ranges=True, pings_reached=None)
    assert plain == Message.of(
        ("t", "status"), ("st", "active"), ("dt", "1f4"), ("protocol", "1"), ("hbtwist", "1")
    )
    pinged = statuses.message("up", 60, flow_control=False, advertise_ranges=False, pings_reached=2)
    assert pinged == Message.of(("t", "status"), ("st", "up"), ("dt", "3c"), (PINGS_FIELD, "2"))


def _active(statuses: StatusMessages, status: str = "active", pings: int = 1) -> Message:
    return statuses.message(status, 500, flow_control=True, advertise_ranges=True, pings_reached=pings)


def test_same_state_gives_the_same_message_and_a_change_a_new_one() -> None:
    """While nothing changes the very same message is handed out; any change rebuilds it."""
    statuses = StatusMessages()
    first = _active(statuses)
    assert _active(statuses) is first
    fewer_pings = _active(statuses, pings=0)
    assert fewer_pings is not first and fewer_pings.text(PINGS_FIELD) == "0"
    assert _active(statuses, status="up").text("st") == "up"
