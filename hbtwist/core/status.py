"""The status message a node sends at every keepalive, built once per change of its content."""

from __future__ import annotations

from hbtwist.wire import Message

HBTWIST_PROTOCOL = "1"
"""Sent in every status as field `hbtwist`: the peer may use range and suppressed NACKs."""

PINGS_FIELD = "hbtwist_pings"
"""Status field: how many ping nodes the sender reaches (decimal); Heartbeat ignores it."""


class StatusMessages:
    """Hands out the unstamped status for the node's state, reusing the last one while the
    state is unchanged (a status goes out every keepalive; its content changes rarely)."""

    def __init__(self) -> None:
        self._state: tuple[str, int, bool, bool, int | None] | None = None
        self._message = Message()

    def message(
        self,
        status: str,
        deadtime_ms: int,
        *,
        flow_control: bool,
        advertise_ranges: bool,
        pings_reached: int | None,
    ) -> Message:
        """`t=status st dt [protocol] [hbtwist] [hbtwist_pings]`; pings only if ha.cf has ping nodes."""
        state = (status, deadtime_ms, flow_control, advertise_ranges, pings_reached)
        if state != self._state:
            fields = [("t", "status"), ("st", status), ("dt", f"{deadtime_ms:x}")]
            if flow_control:
                fields.append(("protocol", "1"))
            if advertise_ranges:
                fields.append(("hbtwist", HBTWIST_PROTOCOL))
            if pings_reached is not None:
                fields.append((PINGS_FIELD, str(pings_reached)))
            self._state, self._message = state, Message.of(*fields)
        return self._message
