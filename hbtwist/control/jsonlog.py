"""Log observers for `twistd --logger`: JSON lines carrying every event's structured fields."""

from __future__ import annotations

import sys

from twisted.logger import ILogObserver, jsonFileLogObserver


def json() -> ILogObserver:
    """`twistd --logger hbtwist.control.jsonlog.json`: one JSON object per line on standard output.

    Events of the node carry `hb_event` (the kind, e.g. `LinkStatusChanged`) and its fields
    (`node`, `link`, `old`, `new`, ...) next to Twisted's own (`log_time`, `log_level`, ...).
    """
    return jsonFileLogObserver(sys.stdout, recordSeparator="")
