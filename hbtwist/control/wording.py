"""Log lines for core events, in Heartbeat 3.0.6's wording, with structured fields."""

from __future__ import annotations

from dataclasses import asdict

from twisted.logger import Logger, LogLevel

from hbtwist.core import events


def wording(event: events.Event, local: str) -> tuple[LogLevel, str]:
    """The level and Heartbeat-style text (a twisted.logger format string) of an event."""
    match event:
        case events.NodeStatusChanged(node=node, new="dead") if node != local:
            return LogLevel.warn, "node {node}: is dead"
        case events.NodeStatusChanged(node=node) if node == local:
            return LogLevel.info, "Local status now set to: '{new}'"
        case events.NodeStatusChanged():
            return LogLevel.info, "Status update for node {node}: status {new}"
        case events.LinkStatusChanged():
            return LogLevel.info, "Link {node}:{link} {new}."
        case events.NodeRestarted():
            return LogLevel.info, "Heartbeat restart on node {node}"
        case events.LateHeartbeat(critical=True):
            return LogLevel.warn, "Late heartbeat: Node {node}: interval {interval_ms} ms (> deadtime)"
        case events.LateHeartbeat():
            return LogLevel.warn, "Late heartbeat: Node {node}: interval {interval_ms} ms"
        case events.PartitionHealed():
            return LogLevel.critical, "Cluster node {node} returning after partition."
        case events.LocalStall():
            return LogLevel.warn, "Local stall: timers ran {stalled_ms} ms late; peer timeouts deferred"
        case events.CommUp():
            return LogLevel.info, "Comm_now_up(): updating status to active"
        case events.MessagesLost():
            text = "Irretrievably lost packet: node {node} seq {first}..{last} ({reason})"
            return LogLevel.error, text
        case events.ShutdownNotice():
            return LogLevel.info, "Received shutdown notice from '{node}'."
        case events.GroupStateChanged():
            return LogLevel.info, "Resource group {group}: {old} -> {new} (holder: {holder})"
        case events.ResourceOperation(result="ok" | "not running"):
            text = "Resource {resource} {operation}: {result} in {duration_ms} ms ({path})"
            return LogLevel.info, text
        case events.ResourceOperation():
            text = "Resource {resource} {operation}: {result} in {duration_ms} ms ({path}): {detail}"
            return LogLevel.warn, text
        case events.HoldingChanged():
            return LogLevel.info, "This node now holds {new} resources (was {old})."
        case events.FenceResult(result="OK"):
            return LogLevel.info, "node {node} now reset."
        case events.FenceResult(result="badhost"):
            return LogLevel.error, "Device {device} cannot reset host {node}."
        case events.FenceResult():
            return LogLevel.error, "Host {node} not reset!"
        case events.PingsReached(count=None):
            return LogLevel.info, "Node {node} no longer says how many ping nodes it reaches."
        case events.PingsReached():
            return LogLevel.info, "Node {node} reaches {count} ping node(s)."
    return LogLevel.info, events.event_name(event)


def log_event(log: Logger, event: events.Event, local: str) -> None:
    """Emit one event as a log line carrying the event's fields and, as `hb_event`, its wire name."""
    level, text = wording(event, local)
    log.emit(level, text, hb_event=events.event_name(event), **asdict(event))
