"""Standard input as chunks of lines, for `hbctl send --stdin`.

A real file descriptor is read by a daemon thread so that slow input (a pipe) is sent as it comes;
an in-memory stream (tests) is one chunk.
"""

from __future__ import annotations

import os
import threading
from typing import Any, TextIO

READ_CHUNK = 1 << 16
CHUNKS_AHEAD = 16
"""Chunks of standard input read ahead of the sending (16 x 64 KiB at most)."""


def open_lines(stream: TextIO) -> MemoryLines | ThreadedLines:
    """The lines of `stream`: read by a thread if it has a file descriptor, else in memory."""
    try:
        return ThreadedLines(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return MemoryLines(stream)


class MemoryLines:
    """The lines of an in-memory text stream (tests), in one chunk."""

    def __init__(self, stream: TextIO) -> None:
        self._lines: list[bytes] | None = [line.encode("utf-8") for line in stream.read().splitlines()]

    def ready(self) -> bool:
        return False

    async def chunk(self) -> list[bytes] | None:
        lines, self._lines = self._lines, None
        return lines


class ThreadedLines:
    """The lines of a file descriptor, read by a daemon thread and handed to the reactor in
    chunks (at most CHUNKS_AHEAD ahead), so that slow input is sent as it comes."""

    def __init__(self, fd: int) -> None:
        from twisted.internet import reactor
        from twisted.internet.defer import DeferredQueue

        self._queue: DeferredQueue[list[bytes] | OSError | None] = DeferredQueue()
        self._room = threading.Semaphore(CHUNKS_AHEAD)
        self._reactor: Any = reactor
        self._fd = fd
        threading.Thread(target=self._read, name="hbctl-stdin", daemon=True).start()

    def _read(self) -> None:
        put = self._queue.put
        pending = b""
        while True:
            self._room.acquire()
            try:
                data = os.read(self._fd, READ_CHUNK)
            except OSError as error:
                self._reactor.callFromThread(put, error)
                return
            if not data:
                self._reactor.callFromThread(put, [pending] if pending else [])
                self._reactor.callFromThread(put, None)
                return
            pending += data
            *lines, pending = pending.split(b"\n")
            self._reactor.callFromThread(put, lines)

    def ready(self) -> bool:
        """Whether another chunk is already waiting."""
        return bool(self._queue.pending)

    async def chunk(self) -> list[bytes] | None:
        """The next lines (possibly none), or None at the end of the input; OSError if it
        cannot be read."""
        item = await self._queue.get()
        self._room.release()
        if isinstance(item, OSError):
            raise item
        return item
