"""The typed outputs of the cores: what each one reports, and to whom."""

from __future__ import annotations

from zope.interface import Interface

from hbtwist.core.events import Event
from hbtwist.wire import Message


class IDeliveryOutput(Interface):
    """What reliable delivery hands on: packets to send, messages in order, losses."""

    def transmit(message: Message) -> None:
        """Send one stamped message on every medium (a retransmission is sent byte-identically)."""

    def transmit_to(message: Message, node: str) -> None:
        """Send one stamped message that only `node` uses (an acknowledgement): on every medium
        but the unicast ones known to reach other nodes only."""

    def deliver(sender: str, message: Message) -> None:
        """One application message, in the sender's order, exactly once."""

    def report(event: Event) -> None:
        """One event (membership, links, losses, stalls)."""


class ICoreOutput(IDeliveryOutput):
    """What a node's cores hand to the host: packets to send, messages and events to report."""

    def rejected(reason: str, total: int, link: str, source: object, detail: str) -> None:
        """A datagram was dropped before use; `total` counts the drops for `reason` so far."""

    def heard_from(node: str, source: object) -> None:
        """A current status of `node` came from the address `source` (as its medium gave it)."""


class IMembershipOutput(Interface):
    """What the membership core asks of the node around it."""

    def send(message: Message) -> None:
        """Stamp and send a protocol message (status, reqnodes, repnodes, shutdone)."""

    def repeat_status() -> None:
        """Send the last status again as it was, with its sequence number: a copy."""

    def report(event: Event) -> None:
        """One membership event."""

    def heard_status(node: str, ranges: bool, flow_control: bool) -> None:
        """A node's status said whether it takes range requests and uses flow control."""

    def restarted(node: str) -> None:
        """A node restarted (a new generation): its old stream ended and numbering starts again."""

    def stream_ended(node: str, reason: str, keep_sequence: bool) -> None:
        """A node died or came back from a partition: its message stream ended."""

    def liveness_changed() -> None:
        """Some node's liveness changed: held application messages may move."""


class IGroupActions(Interface):
    """What the host does for the resource manager: run groups and log its lines."""

    def start_group(key: str) -> None:
        """Start the group `key` here (left to right); answer with `group_started`."""

    def stop_group(key: str) -> None:
        """Stop the group `key` here (right to left); answer with `group_stopped`."""

    def fence(node: str) -> None:
        """Reset the dead `node` with the STONITH device; answer with `fence_done` (`OK`,
        `bad`, or `badhost`: the device cannot reset that node)."""

    def say(level: str, text: str) -> None:
        """One log line in Heartbeat's wording (`info`, `warn`, `error` or `critical`)."""


class IFailoverOutput(IGroupActions):
    """What the resource manager asks of the node around it."""

    def send(message: Message) -> None:
        """Send a release-1 resource message to the cluster, reliably and in order."""

    def report(event: Event) -> None:
        """One resource event."""
