"""ha.cf's logfile and debugfile get Heartbeat-format lines, written off the reactor thread."""

from __future__ import annotations

import re
from pathlib import Path

from twisted.logger import Logger

from hbtwist.config.model import LogSettings
from hbtwist.control.logfiles import HeartbeatLogService

LINE = re.compile(r"^[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d n1 heartbeat: \[\d+\]: (\w+): (.*)$")


def _run(settings: LogSettings) -> None:
    service = HeartbeatLogService(settings, "n1")
    service.startService()
    log = Logger(namespace="hbtwist.test")
    log.warn("node {node}: is dead", node="n2")
    log.info("Link {node}:{link} {status}.", node="n2", link="eth0", status="up")
    log.debug("a debug detail")
    service.stopService()


def test_logfile_gets_heartbeat_lines_and_no_debug(tmp_path: Path) -> None:
    """The log file holds one Heartbeat-format line per event, without debug lines."""
    logfile = tmp_path / "ha-log"
    _run(LogSettings(logfile=str(logfile)))
    lines = [LINE.match(line) for line in logfile.read_text().splitlines()]
    assert all(lines)
    assert [(m.group(1), m.group(2)) for m in lines if m] == [
        ("WARN", "node n2: is dead"),
        ("info", "Link n2:eth0 up."),
    ]


def test_debugfile_also_gets_debug_lines(tmp_path: Path) -> None:
    """The debug file holds every line, debug included."""
    debugfile = tmp_path / "ha-debug"
    _run(LogSettings(debugfile=str(debugfile)))
    assert "debug: a debug detail" in debugfile.read_text()


def test_nothing_configured_means_not_wanted() -> None:
    """Without logfile, debugfile or a facility the service is not needed."""
    assert not HeartbeatLogService(LogSettings(facility="none"), "n1").wanted
    assert HeartbeatLogService(LogSettings(facility="local0"), "n1").wanted
