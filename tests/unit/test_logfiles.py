"""ha.cf's logfile, debugfile and logfacility get Heartbeat-format lines, written in a thread."""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from twisted.logger import Logger

from hbtwist.config.model import LogSettings
from hbtwist.control.logfiles import HeartbeatLogService

LINE = re.compile(r"^[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d n1 heartbeat: \[(\d+)\]: (\w+): (.*)$")


def _run(settings: LogSettings, syslog_address: str = "/nonexistent/log") -> None:
    service = HeartbeatLogService(settings, "n1", syslog_address)
    service.startService()
    log = Logger(namespace="hbtwist.test")
    log.warn("node {node}: is dead", node="n2")
    log.info("Link {node}:{link} {status}.", node="n2", link="eth0", status="up")
    log.debug("a debug detail")
    log.critical("Cluster node {node} returning after partition.", node="n3")
    service.stopService()


@pytest.fixture
def syslog(tmp_path: Path) -> Iterator[socket.socket]:
    """A datagram socket standing in for /dev/log."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(str(tmp_path / "log"))
        server.settimeout(5)
        yield server


def test_logfile_gets_heartbeat_lines_and_no_debug(tmp_path: Path) -> None:
    """The log file holds one Heartbeat-format line per event with this pid, without debug lines."""
    logfile = tmp_path / "ha-log"
    _run(LogSettings(logfile=str(logfile)))
    lines = [LINE.match(line) for line in logfile.read_text().splitlines()]
    assert all(lines)
    assert [(m.group(1), m.group(2), m.group(3)) for m in lines if m] == [
        (str(os.getpid()), "WARN", "node n2: is dead"),
        (str(os.getpid()), "info", "Link n2:eth0 up."),
        (str(os.getpid()), "CRIT", "Cluster node n3 returning after partition."),
    ]


def test_debugfile_also_gets_debug_lines(tmp_path: Path) -> None:
    """The debug file holds every line, debug included, in order."""
    debugfile = tmp_path / "ha-debug"
    _run(LogSettings(debugfile=str(debugfile)))
    levels = [m.group(2) for m in map(LINE.match, debugfile.read_text().splitlines()) if m]
    assert levels == ["WARN", "info", "debug", "CRIT"]
    assert "debug: a debug detail" in debugfile.read_text()


def test_facility_gets_syslog_lines_with_priorities(tmp_path: Path, syslog: socket.socket) -> None:
    """Syslog gets `heartbeat: [pid]: LEVEL: text` at the facility and the level's priority, no debug."""
    _run(LogSettings(facility="local0"), str(tmp_path / "log"))
    received = [syslog.recv(4096) for _ in range(3)]
    pid = os.getpid()
    local0 = 16 * 8
    assert [line.decode() for line in received] == [
        f"<{local0 + 4}>heartbeat: [{pid}]: WARN: node n2: is dead\x00",
        f"<{local0 + 6}>heartbeat: [{pid}]: info: Link n2:eth0 up.\x00",
        f"<{local0 + 2}>heartbeat: [{pid}]: CRIT: Cluster node n3 returning after partition.\x00",
    ]


def test_unwritable_file_does_not_stop_logging(tmp_path: Path) -> None:
    """A log file that cannot be opened is skipped quietly; the other destinations still get lines."""
    debugfile = tmp_path / "ha-debug"
    _run(LogSettings(logfile=str(tmp_path / "missing" / "ha-log"), debugfile=str(debugfile)))
    assert len(debugfile.read_text().splitlines()) == 4


def test_nothing_configured_means_not_wanted() -> None:
    """Without logfile, debugfile or a facility the service is not needed."""
    assert not HeartbeatLogService(LogSettings(facility="none"), "n1").wanted
    assert HeartbeatLogService(LogSettings(facility="local0"), "n1").wanted
