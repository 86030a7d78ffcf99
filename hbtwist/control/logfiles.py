"""Logging as ha.cf asks (`logfile`, `debugfile`, `logfacility`), in Heartbeat's line format.

File lines are `<Mon dd HH:MM:SS> <node> heartbeat: [<pid>]: <LEVEL>: <text>`, syslog lines
`heartbeat: [<pid>]: <LEVEL>: <text>` (Heartbeat's layout, which its Cluster Test Suite reads).
A separate thread does the writing, so a slow disk or syslog never stalls the heartbeats.
"""

from __future__ import annotations

import os
import queue
import syslog
import threading
import time
from typing import Any

from twisted.application.service import Service
from twisted.logger import ILogObserver, LogLevel, formatEvent, globalLogPublisher
from zope.interface import implementer

from hbtwist.config.model import LogSettings

LEVELS = {
    LogLevel.critical: "CRIT",
    LogLevel.error: "ERROR",
    LogLevel.warn: "WARN",
    LogLevel.info: "info",
    LogLevel.debug: "debug",
}
PRIORITIES = {
    LogLevel.critical: syslog.LOG_CRIT,
    LogLevel.error: syslog.LOG_ERR,
    LogLevel.warn: syslog.LOG_WARNING,
    LogLevel.info: syslog.LOG_INFO,
    LogLevel.debug: syslog.LOG_DEBUG,
}
_STOP = None


def file_line(event: dict[str, Any], node: str, pid: int) -> str:
    """One event as a line of Heartbeat's log files."""
    stamp = time.strftime("%b %d %H:%M:%S", time.localtime(event.get("log_time", time.time())))
    level = LEVELS.get(event.get("log_level", LogLevel.info), "info")
    return f"{stamp} {node} heartbeat: [{pid}]: {level}: {formatEvent(event)}\n"


class HeartbeatLogService(Service):
    """Copies every log event to ha.cf's log file, debug file and syslog facility."""

    name = "hblog"

    def __init__(self, settings: LogSettings, node: str) -> None:
        self.settings = settings
        self.node = node
        self._queue: queue.SimpleQueue[tuple[str | None, int, str] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._observer = _Observer(self)

    @property
    def wanted(self) -> bool:
        """Whether ha.cf names anywhere to log."""
        settings = self.settings
        return bool(settings.logfile or settings.debugfile or _facility(settings.facility))

    def startService(self) -> None:  # noqa: N802
        super().startService()
        facility = _facility(self.settings.facility)
        if facility is not None:
            syslog.openlog("heartbeat", 0, facility)
        self._thread = threading.Thread(target=self._write, name="hbtwist-log", daemon=True)
        self._thread.start()
        globalLogPublisher.addObserver(self._observer)

    def stopService(self) -> None:  # noqa: N802
        globalLogPublisher.removeObserver(self._observer)
        self._queue.put(_STOP)
        if self._thread is not None:
            self._thread.join(timeout=5)
        super().stopService()

    def observe(self, event: dict[str, Any]) -> None:
        """Queue one event for the writer thread (never blocks)."""
        level = event.get("log_level", LogLevel.info)
        line = file_line(event, self.node, os.getpid())
        if level is LogLevel.debug:
            self._queue.put((self.settings.debugfile, PRIORITIES[level], line))
            return
        for path in {self.settings.logfile, self.settings.debugfile} - {None}:
            self._queue.put((path, PRIORITIES.get(level, syslog.LOG_INFO), line))
        if _facility(self.settings.facility) is not None:
            self._queue.put((None, PRIORITIES.get(level, syslog.LOG_INFO), line))

    def _write(self) -> None:
        while (item := self._queue.get()) is not _STOP:
            path, priority, line = item
            try:
                if path is None:
                    syslog.syslog(priority, line.split(" heartbeat: ", 1)[1].rstrip("\n"))
                else:
                    with open(path, "a", encoding="utf-8") as target:
                        target.write(line)
            except OSError:
                continue


@implementer(ILogObserver)
class _Observer:
    """The log observer handing events to the service."""

    def __init__(self, service: HeartbeatLogService) -> None:
        self._service = service

    def __call__(self, event: dict[str, Any]) -> None:
        self._service.observe(event)


def _facility(name: str | None) -> int | None:
    if not name or name == "none":
        return None
    return getattr(syslog, f"LOG_{name.upper()}", None)
