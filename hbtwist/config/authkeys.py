"""Reading authkeys into a `Keyring` with Heartbeat 3.0.6's rules (spec section 2.1).

The file must not be readable by group or others. `auth N` chooses the sending key, and must come
before the `N method [key]` line it names: Heartbeat picks the sending key while reading key lines.
Every listed key is accepted on incoming packets, so each `crc` key (which authenticates nothing)
is warned about. Problems never quote the text of a line: it may hold a key.
"""

from __future__ import annotations

import re
import stat
from types import MappingProxyType

from hbtwist.config.problems import FileLog
from hbtwist.config.source import SourceFile
from hbtwist.config.values import WHITESPACE, split_words
from hbtwist.wire.auth import AuthKey, AuthMethod, Keyring
from hbtwist.wire.limits import MAXAUTH

_SPACE = " \t\n\v\f\r"
"""What C's sscanf skips between the fields of a key line."""

_AUTH = re.compile(f"auth[{_SPACE}]*([+-]?[0-9]+)(.*)", re.DOTALL)
_INDEX = re.compile(r"[+-]?[0-9]+")
_SYNTAX = "expected 'auth N' or 'N method [key]'; the line is not shown, it may hold a key"
_METHODS = "crc, md5 or sha1"


class _Reader:
    """The state of one pass over authkeys."""

    def __init__(self, log: FileLog) -> None:
        self.log = log
        self.keys: dict[int, AuthKey] = {}
        self.key_lines: dict[int, int] = {}
        self.failed: set[int] = set()
        self.unreadable = False
        """Whether a line could not be read at all: what it said (which key) is unknown."""
        self.auth: tuple[int, int] | None = None
        self.send_index: int | None = None

    def auth_line(self, content: str, line: int) -> None:
        match = _AUTH.fullmatch(content)
        if match is None:
            self.log.error(line, "invalid auth line (expected 'auth N')")
            self.unreadable = True
            return
        index = int(match[1])
        if self.auth is not None:
            self.log.error(line, f"auth given again (first on line {self.auth[1]})")
            return
        if not 0 <= index < MAXAUTH:
            self.log.error(line, f"auth {index}: key index must be 0..{MAXAUTH - 1}")
            self.unreadable = True
            return
        if match[2].strip(_SPACE):
            self.log.warn(line, f"text after 'auth {index}' is ignored")
        self.auth = (index, line)

    def key_line(self, content: str, line: int) -> None:
        words = split_words(content, _SPACE)
        if len(words) < 2 or _INDEX.fullmatch(words[0]) is None:
            self.log.error(line, f"invalid line ({_SYNTAX})")
            self.unreadable = True
            return
        index, method_name, secret = int(words[0]), words[1], words[2] if len(words) > 2 else ""
        problem = self._key_problem(index, method_name, secret)
        if problem is not None:
            self.log.error(line, problem)
            self.failed.add(index)
            return
        if len(words) > 3:
            self.log.warn(line, f"key {index}: text after the key is ignored")
        secret_bytes = secret.encode("utf-8", "surrogateescape")
        self.keys[index] = AuthKey(index, AuthMethod(method_name), secret_bytes)
        self.key_lines[index] = line
        if self.auth is not None and self.auth[0] == index:
            self.send_index = index
        if self.keys[index].method is AuthMethod.CRC:
            self.log.warn(line, _crc_warning(index, sending=self.send_index == index))

    def _key_problem(self, index: int, method_name: str, secret: str) -> str | None:
        if not 0 <= index < MAXAUTH:
            return f"key index {index} is outside 0..{MAXAUTH - 1}"
        if index in self.key_lines:
            return f"key {index} is defined twice (first on line {self.key_lines[index]})"
        try:
            method = AuthMethod(method_name)
        except ValueError:
            if method_name.lower() in {known.value for known in AuthMethod}:
                return f"key {index}: method names are lower-case ({_METHODS})"
            return f"key {index}: unknown authentication method ({_METHODS})"
        if secret and not method.needs_key:
            return f"key {index}: {method.value} takes no key"
        if not secret and method.needs_key:
            return f"key {index}: {method.value} needs a key"
        return None

    def keyring(self) -> Keyring | None:
        """The keyring read; None after logging why not (unless a line already explains it)."""
        if self.auth is None:
            if not self.unreadable:
                self.log.error(None, "missing auth directive ('auth N' before the key lines)")
            return None
        index, line = self.auth
        if self.send_index is None:
            if index in self.failed or (self.unreadable and index not in self.key_lines):
                return None
            if index in self.key_lines:
                self.log.error(
                    line,
                    f"auth key {index} not found after the auth line (key {index} is on line"
                    f" {self.key_lines[index]}; 'auth {index}' must come before it)",
                )
            else:
                self.log.error(line, f"auth key {index} not found")
            return None
        return Keyring(self.send_index, MappingProxyType(dict(self.keys)))


def _crc_warning(index: int, *, sending: bool) -> str:
    if sending:
        return (
            f"key {index} (the sending key) uses crc, which authenticates nothing: anyone on the"
            " network can forge packets this cluster accepts; use sha1"
        )
    return (
        f"key {index} uses crc, which authenticates nothing: every listed key is accepted on"
        " incoming packets, so anyone on the network can inject packets this node accepts;"
        " remove the line or use sha1"
    )


def parse_authkeys(source: SourceFile, log: FileLog) -> Keyring | None:
    """The keyring of `source`, or None when it has errors (all of them recorded in `log`)."""
    if source.mode & (stat.S_IRGRP | stat.S_IROTH):
        mode = stat.S_IMODE(source.mode)
        log.error(
            None,
            f"readable by group or others (mode {mode:04o}): it must not be; mode 600 required",
        )
    reader = _Reader(log)
    for number, text in source.numbered():
        content = text.lstrip(WHITESPACE)
        if not content or content.startswith("#"):
            continue
        if content.startswith("a"):
            reader.auth_line(content, number)
        else:
            reader.key_line(content, number)
    return reader.keyring()
