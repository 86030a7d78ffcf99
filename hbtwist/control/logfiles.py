"""Logging as ha.cf asks (`logfile`, `debugfile`, `logfacility`), in Heartbeat's line format.

File lines are `<Mon dd HH:MM:SS> <node> heartbeat: [<pid>]: <LEVEL>: <text>`, syslog lines
`heartbeat: [<pid>]: <LEVEL>: <text>` (Heartbeat's layout, which its Cluster Test Suite reads).
Twisted's log events become stdlib log records handed to a `QueueHandler`; a `QueueListener`
thread does the writing, so a slow disk or syslog never stalls the heartbeats.
"""

from __future__ import annotations

import logging
import queue
from logging.handlers import QueueHandler, QueueListener, SysLogHandler, WatchedFileHandler
from typing import Any

from twisted.application.service import Service
from twisted.logger import ILogObserver, LogLevel, formatEvent, globalLogPublisher
from zope.interface import implementer

from hbtwist.config.model import LogSettings

LEVELS = {
    LogLevel.critical: (logging.CRITICAL, "CRIT"),
    LogLevel.error: (logging.ERROR, "ERROR"),
    LogLevel.warn: (logging.WARNING, "WARN"),
    LogLevel.info: (logging.INFO, "info"),
    LogLevel.debug: (logging.DEBUG, "debug"),
}
"""Twisted level: (stdlib level, Heartbeat's word for it)."""
DATE_FORMAT = "%b %d %H:%M:%S"
SYSLOG_ADDRESS = "/dev/log"


def record_of(event: dict[str, Any]) -> logging.LogRecord:
    """One Twisted log event as a stdlib record: its time, level, text and Heartbeat level word."""
    level, word = LEVELS.get(event.get("log_level", LogLevel.info), LEVELS[LogLevel.info])
    record = logging.LogRecord("heartbeat", level, "", 0, formatEvent(event), None, None)
    created = event.get("log_time")
    if created is not None:
        record.created = created
        record.msecs = (created - int(created)) * 1000
    record.__dict__["hblevel"] = word
    return record


def file_formatter(node: str) -> logging.Formatter:
    """Heartbeat's log file line for node `node`."""
    prefix = node.replace("%", "%%")
    return logging.Formatter(
        f"%(asctime)s {prefix} heartbeat: [%(process)d]: %(hblevel)s: %(message)s", DATE_FORMAT
    )


SYSLOG_FORMAT = logging.Formatter("heartbeat: [%(process)d]: %(hblevel)s: %(message)s")


class _DropFailures(logging.Handler):
    """A write that fails (disk full, no syslog) is dropped: logging never stops the node."""

    def handle(self, record: logging.LogRecord) -> bool:
        """Write the record, or drop it if the file cannot even be opened."""
        try:
            return bool(super().handle(record))
        except OSError:
            return False

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802
        """Drop the record."""


class _File(_DropFailures, WatchedFileHandler):
    """A log file, reopened when logrotate moves it away."""


class _Syslog(_DropFailures, SysLogHandler):
    """The local syslog socket."""


def facility_of(name: str | None) -> int | None:
    """The syslog facility called `name` (`local0`, `daemon`...), None for none or unknown."""
    if not name or name == "none":
        return None
    return SysLogHandler.facility_names.get(name.lower())


def handlers_for(
    settings: LogSettings, node: str, syslog_address: str = SYSLOG_ADDRESS
) -> list[logging.Handler]:
    """One handler per place ha.cf names: debug lines go to the debug file only."""
    handlers: list[logging.Handler] = []
    wanted = ((settings.logfile, logging.INFO), (settings.debugfile, logging.DEBUG))
    for path, level in wanted:
        if path:
            handler: logging.Handler = _File(path, encoding="utf-8", delay=True)
            handler.setLevel(level)
            handler.setFormatter(file_formatter(node))
            handlers.append(handler)
    facility = facility_of(settings.facility)
    if facility is not None:
        handler = _Syslog(syslog_address, facility)
        handler.setLevel(logging.INFO)
        handler.setFormatter(SYSLOG_FORMAT)
        handlers.append(handler)
    return handlers


class HeartbeatLogService(Service):
    """Copies every log event to ha.cf's log file, debug file and syslog facility."""

    name = "hblog"

    def __init__(
        self, settings: LogSettings, node: str, syslog_address: str = SYSLOG_ADDRESS
    ) -> None:
        self.settings = settings
        self.node = node
        self.syslog_address = syslog_address
        self._records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
        self._enqueue = QueueHandler(self._records)
        self._listener: QueueListener | None = None
        self._observer = _Observer(self._enqueue)

    @property
    def wanted(self) -> bool:
        """Whether ha.cf names anywhere to log."""
        settings = self.settings
        return bool(settings.logfile or settings.debugfile or facility_of(settings.facility))

    def startService(self) -> None:  # noqa: N802
        super().startService()
        handlers = handlers_for(self.settings, self.node, self.syslog_address)
        self._listener = QueueListener(self._records, *handlers, respect_handler_level=True)
        self._listener.start()
        globalLogPublisher.addObserver(self._observer)

    def stopService(self) -> None:  # noqa: N802
        globalLogPublisher.removeObserver(self._observer)
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.stop()
            for handler in listener.handlers:
                handler.close()
        super().stopService()


@implementer(ILogObserver)
class _Observer:
    """Hands each Twisted log event to the queue as a stdlib record (never blocks)."""

    def __init__(self, target: QueueHandler) -> None:
        self._target = target

    def __call__(self, event: dict[str, Any]) -> None:
        self._target.handle(record_of(event))
