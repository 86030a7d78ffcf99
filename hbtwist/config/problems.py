"""Configuration problems: `FILE:LINE: message` records, the error that carries them, a collector.

Messages quote configuration text through `shown`, which keeps a quote short and printable.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

SHOWN_MAX = 60
"""Longest quote of configuration text in a message, in characters, quotes and escapes included."""

_TEXT_CONTROLS = frozenset("\t\n\r\f\v")


def shown(text: str) -> str:
    """`text` quoted for a message, like `repr` but bytes that are not UTF-8 shown as `\\xNN`;
    cut with an ellipsis to at most SHOWN_MAX characters."""
    pieces = [_escaped(char) for char in text]
    if sum(map(len, pieces)) + 2 <= SHOWN_MAX:
        return "'" + "".join(pieces) + "'"
    kept, length = [], 3
    for piece in pieces:
        if length + len(piece) > SHOWN_MAX:
            break
        kept.append(piece)
        length += len(piece)
    return "'" + "".join(kept) + "\u2026'"


def _escaped(char: str) -> str:
    if "\udc80" <= char <= "\udcff":
        return f"\\x{ord(char) - 0xDC00:02x}"
    if char in "'\\":
        return "\\" + char
    return char if char.isprintable() else repr(char)[1:-1]


def is_text(text: str) -> bool:
    """Whether `text` is UTF-8 text: no undecodable bytes, no control characters but blanks."""
    return all(char in _TEXT_CONTROLS or unicodedata.category(char) not in ("Cc", "Cs") for char in text)


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or worth a warning) in a configuration file, with where it was found."""

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        if self.line is None:
            return f"{self.path}: {self.message}"
        return f"{self.path}:{self.line}: {self.message}"


class ConfigError(Exception):
    """The configuration cannot be used; `problems` lists every error found, in file order."""

    def __init__(self, problems: tuple[Problem, ...], warnings: tuple[Problem, ...] = ()) -> None:
        self.problems = problems
        self.warnings = warnings
        super().__init__("\n".join(str(problem) for problem in problems))

    def __str__(self) -> str:
        return "\n".join(str(problem) for problem in self.problems)


class ProblemLog:
    """Collects errors and warnings from all configuration files of one load."""

    def __init__(self) -> None:
        self.errors: list[Problem] = []
        self.warnings: list[Problem] = []
        self._files: list[str] = []

    def for_file(self, path: str) -> FileLog:
        """A view of this log that records problems against `path`."""
        if path not in self._files:
            self._files.append(path)
        return FileLog(self, path)

    def in_order(self, problems: list[Problem]) -> tuple[Problem, ...]:
        """`problems` in file order (files as they were read), then line order; the problems
        of a file as a whole come after its numbered lines."""
        files = {path: index for index, path in enumerate(self._files)}

        def position(problem: Problem) -> tuple[int, bool, int]:
            return files.get(problem.path, len(files)), problem.line is None, problem.line or 0

        return tuple(sorted(problems, key=position))


@dataclass(frozen=True)
class FileLog:
    """Records problems of one file into a shared `ProblemLog`."""

    log: ProblemLog
    path: str

    def error(self, line: int | None, message: str) -> None:
        """Record an error: the configuration will be refused."""
        self.log.errors.append(Problem(self.path, line, message))

    def warn(self, line: int | None, message: str) -> None:
        """Record a warning: accepted, but worth telling the operator."""
        self.log.warnings.append(Problem(self.path, line, message))
