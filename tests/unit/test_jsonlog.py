"""`--logger hbtwist.control.jsonlog.observer`: one clean JSON record per log event."""

from __future__ import annotations

import io
import json
from typing import Any

from twisted.logger import Logger, LogPublisher
from twisted.python import log as legacy

from hbtwist.control.jsonlog import JSONLinesObserver, record
from hbtwist.control.wording import log_event
from hbtwist.core.events import LinkStatusChanged, NodeStatusChanged


def logged(emit: Any) -> list[dict[str, Any]]:
    """The JSON lines written while `emit(log)` logs through a fresh publisher."""
    stream = io.StringIO()
    publisher = LogPublisher(JSONLinesObserver(stream))
    emit(Logger(namespace="hbtwist.daemon.node", observer=publisher))
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_node_event_has_wire_name_fields_and_text() -> None:
    """A node event's record: time, level, rendered text, namespace, wire name and its fields."""
    [line] = logged(lambda log: log_event(log, LinkStatusChanged("n2", "eth0", "up", "dead"), "n1"))
    assert isinstance(line.pop("time"), float)
    assert line == {
        "level": "info",
        "text": "Link n2:eth0 dead.",
        "namespace": "hbtwist.daemon.node",
        "event": "link_status_changed",
        "node": "n2",
        "link": "eth0",
        "old": "up",
        "new": "dead",
    }


def test_heartbeat_wording_and_level_survive() -> None:
    """A peer declared dead is a warning worded as Heartbeat words it."""
    [line] = logged(lambda log: log_event(log, NodeStatusChanged("n2", "active", "dead", 7), "n1"))
    assert (line["level"], line["text"]) == ("warn", "node n2: is dead")
    assert line["event"] == "node_status_changed"
    assert line["generation"] == 7


def test_no_twisted_internals_in_records() -> None:
    """Records carry no format templates, flattened copies or unpersistable objects."""
    [line] = logged(lambda log: log.info("{thing} started on {where}", thing=object(), where="x"))
    assert not [key for key in line if key.startswith("log_")]
    assert "unpersistable" not in json.dumps(line)
    assert line["where"] == "x" and "thing" not in line and "event" not in line
    assert line["text"].endswith(" started on x")


def test_failure_adds_its_traceback() -> None:
    """A logged failure keeps its traceback as text."""

    def fail(log: Logger) -> None:
        try:
            raise ZeroDivisionError("no heartbeat")
        except ZeroDivisionError:
            log.failure("Sending failed")

    [line] = logged(fail)
    assert line["level"] == "critical" and line["text"] == "Sending failed"
    assert "ZeroDivisionError" in line["traceback"]


def test_legacy_events_keep_only_their_text() -> None:
    """An event from twisted.python.log keeps its text, not the legacy bookkeeping keys."""
    events: list[dict[str, Any]] = []
    legacy.addObserver(events.append)
    try:
        legacy.msg("Starting factory", system="-")
    finally:
        legacy.removeObserver(events.append)
    line = record(events[0])
    assert set(line) == {"time", "level", "text", "namespace"}
    assert (line["level"], line["text"]) == ("info", "Starting factory")
