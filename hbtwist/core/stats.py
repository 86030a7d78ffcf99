"""The node's counters as one typed object: packets, drops by reason, retransmissions."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace


@dataclass
class DropCounts:
    """Packets dropped before use, by reason."""

    malformed: int = 0
    bad_auth: int = 0
    duplicate: int = 0
    replay: int = 0
    unknown_node: int = 0
    uuid_mismatch: int = 0
    foreign_self: int = 0

    def items(self) -> list[tuple[str, int]]:
        """(reason, count) for every reason, in declaration order."""
        return [(each.name, getattr(self, each.name)) for each in fields(self)]

    def rejected(self, reason: str) -> int:
        """Count one packet rejected as `bad_auth` (else as `malformed`); that count so far."""
        if reason == "bad_auth":
            self.bad_auth += 1
            return self.bad_auth
        self.malformed += 1
        return self.malformed


@dataclass
class RexmitCounts:
    """Retransmission requests and answers, both sides."""

    requests_sent: int = 0
    requests_received: int = 0
    requests_held: int = 0
    answered: int = 0
    suppressed: int = 0
    naks_sent: int = 0


@dataclass
class NodeStats:
    """Every counter of one node, updated by the cores and read through snapshots."""

    sent: int = 0
    received: int = 0
    lost: int = 0
    """Sequence numbers of other nodes found missing on arrival (most are repaired)."""
    recovered: int = 0
    lost_unrecovered: int = 0
    flow_control_disabled: int = 0
    dropped: DropCounts = field(default_factory=DropCounts)
    rexmit: RexmitCounts = field(default_factory=RexmitCounts)

    def copy(self) -> NodeStats:
        """An independent copy, for a snapshot."""
        return replace(self, dropped=replace(self.dropped), rexmit=replace(self.rexmit))
