"""The instance file of an OCF resource, `conf/OCF/<type>/<instance>`, read without a shell.

Heartbeat sources the file as shell and exports every name assigned in it. hbtwist reads the
subset of shell such files are written in, and refuses anything else with FILE:LINE:

    # a comment
    OCF_RESKEY_ip=192.0.2.10
    export OCF_RESKEY_nic="eth0"     # optional `export`, a comment after the value
    OCF_RESKEY_options='-a -b'  OCF_RESKEY_other=x
    export OCF_RESKEY_ip              # exporting a name assigned above

Values are unquoted words, 'single-quoted' or "double-quoted" text (without `$`, backquotes or
backslashes), or such pieces written together. Expansions, commands, redirections, escapes,
unquoted file name patterns (`*`, `?`, `[`) and `~`, and quotes that run past the end of a line
are errors.
"""

from __future__ import annotations

import os
import re

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
UNSAFE_UNQUOTED = frozenset("$`\\;&|<>()")
UNSAFE_DOUBLE_QUOTED = frozenset("$`\\")
GLOB = frozenset("*?[")
BLANKS = " \t"


class OcfConfError(ValueError):
    """An instance file that cannot be read safely: the file, the line and the problem."""

    def __init__(self, path: str, line: int, problem: str) -> None:
        super().__init__(f"{path}:{line}: {problem}")
        self.path = path
        self.line = line
        self.problem = problem


def conf_candidates(
    config_dir: str, heartbeat_dir: str, agent_type: str, instance: str
) -> tuple[str, ...]:
    """Where the instance file is looked for, in order."""
    return tuple(
        os.path.join(directory, "conf", "OCF", agent_type, instance)
        for directory in (config_dir, heartbeat_dir)
    )


def find_conf(candidates: tuple[str, ...]) -> str | None:
    """The first of `candidates` that is a file, if any."""
    return next((path for path in candidates if os.path.isfile(path)), None)


def read_conf(path: str) -> dict[str, str]:
    """The names the instance file at `path` assigns, with their values (the last one wins)."""
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError as problem:
        raise OcfConfError(path, 0, f"cannot read: {problem.strerror or problem}") from None
    return parse_conf(data, path)


def parse_conf(data: bytes, path: str) -> dict[str, str]:
    """The names `data` (an instance file's bytes, read from `path`) assigns, with their values."""
    values: dict[str, str] = {}
    for number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            line = raw.decode("utf-8").rstrip("\r")
        except UnicodeDecodeError:
            raise OcfConfError(path, number, "not UTF-8 text") from None
        if "\0" in line:
            raise OcfConfError(path, number, "a NUL byte")
        try:
            _assign(_words(line), values)
        except ValueError as problem:
            raise OcfConfError(path, number, str(problem)) from None
    return values


def _assign(words: list[str], values: dict[str, str]) -> None:
    exported = bool(words) and words[0] == "export"
    for word in words[1:] if exported else words:
        name, equals, value = word.partition("=")
        if not NAME.match(name):
            raise ValueError(f"expected NAME=value, found {word!r}")
        if equals:
            values[name] = value
        elif not exported:
            raise ValueError(f"expected NAME=value, found {word!r} (a command?)")
        elif name not in values:
            raise ValueError(f"export of {name}, which is not assigned above")


def _words(line: str) -> list[str]:
    """The words of one line, quotes removed; a `#` at the start of a word ends the line."""
    words: list[str] = []
    position = 0
    while True:
        while position < len(line) and line[position] in BLANKS:
            position += 1
        if position == len(line) or line[position] == "#":
            return words
        word, position = _word(line, position)
        words.append(word)


def _word(line: str, position: int) -> tuple[str, int]:
    pieces: list[str] = []
    while position < len(line) and line[position] not in BLANKS:
        char = line[position]
        if char in "'\"":
            end = line.find(char, position + 1)
            if end < 0:
                raise ValueError(f"unterminated {char} quote")
            text = line[position + 1 : end]
            if char == '"' and UNSAFE_DOUBLE_QUOTED & set(text):
                raise ValueError(f"{_named(UNSAFE_DOUBLE_QUOTED & set(text))} inside double quotes")
            pieces.append(text)
            position = end + 1
            continue
        if char in UNSAFE_UNQUOTED:
            raise ValueError(f"{_named({char})} is shell syntax this file may not use")
        if char in GLOB:
            raise ValueError(f"unquoted {char!r} (a file name pattern): quote the value")
        if char == "~" and (not pieces or pieces[-1] in ("=", ":")):
            raise ValueError("unquoted ~ (tilde expansion): quote the value")
        pieces.append(char)
        position += 1
    return "".join(pieces), position


def _named(chars: set[str] | frozenset[str]) -> str:
    return ", ".join(repr(char) for char in sorted(chars))
