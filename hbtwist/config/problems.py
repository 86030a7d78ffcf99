"""Configuration problems: `FILE:LINE: message` records, the error that carries them, a collector."""

from __future__ import annotations

from dataclasses import dataclass


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

    def for_file(self, path: str) -> FileLog:
        """A view of this log that records problems against `path`."""
        return FileLog(self, path)


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
