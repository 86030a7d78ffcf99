"""`twistd --logger hbtwist.control.jsonlog.observer`: one clean JSON object per log event.

Each line holds `time` (seconds since the epoch), `level`, `text` (the rendered message),
`namespace`, and for a node event `event` (its wire name, as on the control port and in the
metrics) with the event's own fields (`node`, `link`, `old`, `new`, ...). Other plain values
given to the log call are kept as fields too; a logged failure adds `traceback`.
"""

from __future__ import annotations

import json
import sys
from typing import IO, Any

from twisted.logger import ILogObserver, LogLevel, formatEvent
from zope.interface import implementer

RESERVED = ("time", "level", "text", "namespace", "event")
PLAIN = (str, int, float, bool, type(None))
LEGACY_KEYS = frozenset({"message", "isError", "system", "time", "format", "why", "failure"})
"""Keys the legacy `twisted.python.log` adds to its events: not fields of the event."""


def record(event: dict[str, Any]) -> dict[str, Any]:
    """The JSON record of one Twisted log event."""
    level = event.get("log_level", LogLevel.info)
    fields = {
        key: value
        for key, value in event.items()
        if not key.startswith("log_")
        and key not in RESERVED
        and key != "hb_event"
        and not ("log_legacy" in event and key in LEGACY_KEYS)
        and isinstance(value, PLAIN)
    }
    result: dict[str, Any] = {
        "time": event.get("log_time"),
        "level": getattr(level, "name", str(level)),
        "text": formatEvent(event),
        "namespace": event.get("log_namespace", ""),
    }
    if "hb_event" in event:
        result["event"] = event["hb_event"]
    result.update(fields)
    failure = event.get("log_failure")
    if failure is not None:
        result["traceback"] = failure.getTraceback()
    return result


@implementer(ILogObserver)
class JSONLinesObserver:
    """Writes each event's record as one line of JSON to `stream`, flushed at once."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def __call__(self, event: dict[str, Any]) -> None:
        self._stream.write(json.dumps(record(event), ensure_ascii=False, default=str) + "\n")
        self._stream.flush()


def observer() -> ILogObserver:
    """The `--logger` factory: JSON lines on standard output."""
    return JSONLinesObserver(sys.stdout)
