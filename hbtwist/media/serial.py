"""The serial medium: classic-text frames on a tty, reopened with back-off when it goes away.

Writes are bounded: when the port cannot keep up (its write buffer holds more than
`WRITE_BUFFER_LIMIT` bytes) further frames are dropped and counted until it drains.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from twisted.internet.protocol import Protocol
from twisted.logger import Logger
from twisted.plugin import IPlugin
from twisted.python.failure import Failure
from zope.interface import classImplements, implementer

from hbtwist.config.media import MEDIUM_PARSERS, MediumParser, SerialMedium
from hbtwist.media.guard import Receiver, send_failed
from hbtwist.media.interface import (
    IMedium,
    IMediumLink,
    IMediumType,
    MediumContext,
    MediumUnavailable,
    Outgoing,
)
from hbtwist.wire.limits import MAXMSG

FIRST_RETRY_SECONDS = 1.0
LONGEST_RETRY_SECONDS = 30.0
WRITE_BUFFER_LIMIT = 16384
"""Bytes a serial port may hold unsent (several seconds at 19200 baud) before frames are dropped."""
_SEVEN_BITS = bytes(range(128)) * 2
_log = Logger()
OpenPort = Callable[..., Any]
"""How a port is opened: `SerialPort(protocol, device, reactor, baudrate=...)` or a test double."""


def open_serial_port(*args: Any, **kwargs: Any) -> Any:
    """Twisted's `SerialPort(*args, **kwargs)`; pyserial is loaded on a node's first serial port."""
    from twisted.internet.serialport import SerialPort

    return SerialPort(*args, **kwargs)


classImplements(SerialMedium, IMedium)


class FrameReceiver(Protocol):
    """Cuts the byte stream into `>>>` ... `<<<` frames, as Heartbeat's serial reader does.

    The eighth bit is stripped and carriage returns dropped (ISTRIP, IGNCR); text outside a
    frame is skipped; a frame growing past the message size limit is discarded.
    """

    def __init__(self, link: SerialLink) -> None:
        self._link = link
        self._buffer = b""

    def dataReceived(self, data: bytes) -> None:  # noqa: N802
        self._buffer += data.translate(_SEVEN_BITS, b"\r")
        while True:
            start = self._frame_start()
            if start < 0:
                self._buffer = self._buffer[-3:]
                return
            self._buffer = self._buffer[start:]
            end = self._buffer.find(b"\n<<<")
            line_end = self._buffer.find(b"\n", end + 1) if end >= 0 else -1
            if line_end < 0:
                if len(self._buffer) >= MAXMSG:
                    self._buffer = b""
                return
            frame, self._buffer = self._buffer[: line_end + 1], self._buffer[line_end + 1 :]
            self._link.frame_received(frame)

    def _frame_start(self) -> int:
        if self._buffer.startswith(b">>>"):
            return 0
        found = self._buffer.find(b"\n>>>")
        return found + 1 if found >= 0 else -1

    def connectionLost(self, reason: Failure | None = None) -> None:  # noqa: N802
        self._link.lost(self, reason)


@implementer(IMediumLink)
class SerialLink:
    """One serial port; a missing or vanished device is retried with growing delays."""

    def __init__(
        self, medium: SerialMedium, context: MediumContext, open_port: OpenPort = open_serial_port
    ) -> None:
        self.medium = medium
        self.name = medium.device
        self.send_failures = 0
        self.dropped_frames = 0
        """Frames not sent because the port was closed (a dead link, being reopened)."""
        self._reactor = context.reactor
        self._receive = Receiver(context.deliver)
        self._open_port = open_port
        self._port: Any = None
        self._receiver: FrameReceiver | None = None
        self._paused = False
        self._retry: Any = None
        self._delay = FIRST_RETRY_SECONDS
        self._running = False

    def start(self) -> None:
        self._running = True
        self._open()

    def stop(self) -> None:
        self._running = False
        if self._retry is not None and self._retry.active():
            self._retry.cancel()
        port, self._port, self._receiver = self._port, None, None
        if port is not None:
            port.loseConnection()

    def send(self, outgoing: Outgoing) -> None:
        if self._port is None:
            self.dropped_frames += 1
            return
        if self._paused:
            send_failed(self, f"write buffer full ({WRITE_BUFFER_LIMIT} bytes), frame dropped")
            return
        try:
            self._port.write(outgoing.frame)
        except Exception as error:
            send_failed(self, error)

    def pauseProducing(self) -> None:  # noqa: N802
        """The port's write buffer is over the limit: drop frames until it drains."""
        self._paused = True

    def resumeProducing(self) -> None:  # noqa: N802
        """The port's write buffer drained."""
        self._paused = False

    def stopProducing(self) -> None:  # noqa: N802
        """The port is going away; `lost` handles it."""

    def frame_received(self, frame: bytes) -> None:
        """A complete frame arrived."""
        self._receive(frame, self.name, self.name)

    def lost(self, receiver: FrameReceiver, reason: Failure | None) -> None:
        """The device of `receiver` closed (cable pulled, USB adapter gone, peer of a pty gone).

        Only the current port counts: a late notice from a port already replaced is ignored.
        """
        if receiver is not self._receiver:
            return
        self._port, self._receiver = None, None
        if self._running:
            _log.warn("Serial port {device} lost; reopening", device=self.name)
            self._schedule_reopen()

    def _open(self) -> None:
        self._retry = None
        receiver = FrameReceiver(self)
        try:
            port = self._open_port(receiver, self.name, self._reactor, baudrate=self.medium.baud)
        except Exception as error:  # pyserial raises SerialException, OSError or ValueError
            _log.warn(
                "Cannot open serial port {device}: {error}; retrying in {delay:.0f} s",
                device=self.name,
                error=error,
                delay=self._delay,
            )
            self._schedule_reopen()
            return
        self._port, self._receiver, self._paused = port, receiver, False
        port.bufferSize = WRITE_BUFFER_LIMIT
        port.registerProducer(self, True)
        self._delay = FIRST_RETRY_SECONDS
        _log.info(
            "Starting serial heartbeat on tty {device} (baud {baud})",
            device=self.name,
            baud=self.medium.baud,
        )

    def _schedule_reopen(self) -> None:
        if not self._running or (self._retry is not None and self._retry.active()):
            return
        self._retry = self._reactor.callLater(self._delay, self._open)
        self._delay = min(self._delay * 2, LONGEST_RETRY_SECONDS)


@implementer(IPlugin, IMediumType)
@dataclass(frozen=True)
class SerialMediumType:
    """The serial medium as a plugin."""

    directive: str = "serial"

    @property
    def parser(self) -> MediumParser:
        """How `serial` lines are read."""
        return MEDIUM_PARSERS["serial"]

    def check_host(self, medium: SerialMedium) -> None:
        """Only warn-free checks: a missing device is a dead link, retried, not an error."""
        try:
            mode = os.stat(medium.device).st_mode
        except OSError:
            return
        if not stat.S_ISCHR(mode):
            raise MediumUnavailable(f"{medium.device} is not a character device")

    def open(self, medium: SerialMedium, context: MediumContext) -> SerialLink:
        """A link for one serial port."""
        return SerialLink(medium, context)
