"""Reading a configuration file into lines, as Heartbeat's `fgets` loops see them."""

from __future__ import annotations

import os
from dataclasses import dataclass

from hbtwist.config.problems import FileLog

MAX_LINE = 5118
"""Longest line (without its newline) that Heartbeat's 5120-byte line buffer reads whole."""


@dataclass(frozen=True)
class SourceFile:
    """A configuration file's lines (numbered from 1 by position) and its permission bits."""

    path: str
    lines: tuple[str, ...]
    mode: int

    def numbered(self) -> list[tuple[int, str]]:
        """(line number, text) pairs."""
        return list(enumerate(self.lines, start=1))


def read_source(path: str, log: FileLog, *, required: bool = True) -> SourceFile | None:
    """The lines of `path`, or None (with a problem recorded if `required`) when unreadable.

    Bytes that are not UTF-8 are kept (surrogate-escaped), so keys round-trip exactly; a NUL
    ends a line's text as it does in C. Lines too long for Heartbeat's buffer are errors.
    """
    try:
        with open(path, "rb") as stream:
            mode = os.fstat(stream.fileno()).st_mode
            data = stream.read()
    except FileNotFoundError:
        if required:
            log.error(None, "file not found")
        return None
    except OSError as error:
        log.error(None, f"cannot read: {error.strerror or error}")
        return None
    raw_lines = data.split(b"\n")
    if raw_lines[-1] == b"":
        raw_lines.pop()
    lines = []
    for number, raw in enumerate(raw_lines, start=1):
        if len(raw) > MAX_LINE:
            log.error(number, f"line too long ({len(raw)} bytes, at most {MAX_LINE})")
            raw = b""
        lines.append(raw.split(b"\0", 1)[0].decode("utf-8", "surrogateescape"))
    return SourceFile(path, tuple(lines), mode)
