"""The release-1 resource protocol (spec 8.6) as spoken by a node that holds no resource group.

Heartbeat 3.0.6 nodes with `auto_failback on|off` send `starting` when they come up and wait for
every peer's `resource` report before they acquire their groups. hbtwist answers truthfully: it
holds no resources (`rsc_hold=none`) and is stable.
"""

from __future__ import annotations

from collections.abc import Callable

from hbtwist.wire import Message


def resource_report(holding: str = "none", stable: bool = True) -> Message:
    """A `resource` message in Heartbeat's field order."""
    return Message.of(
        ("t", "resource"),
        ("rsc_hold", holding),
        ("rtype", "full"),
        ("isstable", "1" if stable else "0"),
    )


class ResourceReporter:
    """Answers every peer's `starting` with this node's resource report."""

    def __init__(self, local: str, submit: Callable[[Message], None]) -> None:
        self._local = local
        self._submit = submit

    def on_message(self, sender: str, message: Message) -> None:
        """Handle one delivered cluster message."""
        if sender != self._local and message.text("t") == "starting":
            self._submit(resource_report())
