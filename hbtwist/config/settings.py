"""Reading hbtwist.cf, the hbtwist-only resource settings, into `ResourceSettings`.

Heartbeat 3.0.6 refuses directives it does not know, so what only hbtwist reads lives in a file
of its own beside ha.cf. Its lines read like ha.cf's: leading blanks are skipped, a `#` anywhere
starts a comment, the first word is the directive. A setting line (`monitor_interval 10`) sets
the default policy of every resource; a `resource` line (`resource httpd restart_limit=1`) sets
one resource's policy, the defaults filling in the rest whatever line they are on. Times are
written as in ha.cf (`parse_duration_ms`). Every directive and resource appears at most once.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hbtwist.config.directives import ALIASES, DIRECTIVES, REFUSED
from hbtwist.config.durations import parse_duration_ms
from hbtwist.config.media import MEDIUM_PARSERS
from hbtwist.config.model import Resource, ResourcePolicy, ResourceSettings
from hbtwist.config.problems import FileLog, is_text, shown
from hbtwist.config.source import SourceFile
from hbtwist.config.values import WHITESPACE, parse_bool, parse_int, split_words

RESOURCE = "resource"
"""The directive that sets one resource's policy."""

NATIVE_IP_SCRIPTS = frozenset({"IPaddr", "IPaddr2"})
"""Resource scripts hbtwist can serve in process; `native_ip`, `arp_*` concern only these."""

MIN_MONITOR_INTERVAL_MS = 100
MAX_COUNT = 1000
MAX_ARP_COUNT = 50
MAX_ARP_INTERVAL_MS = 10_000

_HACF_WORDS = frozenset({*DIRECTIVES, *REFUSED, *ALIASES, *MEDIUM_PARSERS})


@dataclass(frozen=True)
class Setting:
    """One setting: the `ResourcePolicy` field it sets and how its value is read."""

    field: str
    parse: Callable[[str], object]
    ip_only: bool = False


def _timeout(text: str) -> int:
    milliseconds = parse_duration_ms(text)
    if milliseconds < 1:
        raise ValueError(f"{shown(text)} is too short (more than 0 ms)")
    return milliseconds


def _monitor_interval(text: str) -> int:
    milliseconds = parse_duration_ms(text)
    if 0 < milliseconds < MIN_MONITOR_INTERVAL_MS:
        raise ValueError(
            f"{shown(text)} is too short (0 turns monitoring off, else at least"
            f" {MIN_MONITOR_INTERVAL_MS} ms)"
        )
    return milliseconds


def _arp_interval(text: str) -> int:
    milliseconds = parse_duration_ms(text)
    if milliseconds > MAX_ARP_INTERVAL_MS:
        raise ValueError(f"{shown(text)} is too long (at most {MAX_ARP_INTERVAL_MS} ms)")
    return milliseconds


def _count(high: int) -> Callable[[str], int]:
    return lambda text: parse_int(text, 0, high)


SETTINGS: Mapping[str, Setting] = {
    "start_timeout": Setting("start_timeout_ms", _timeout),
    "stop_timeout": Setting("stop_timeout_ms", _timeout),
    "monitor_timeout": Setting("monitor_timeout_ms", _timeout),
    "monitor_interval": Setting("monitor_interval_ms", _monitor_interval),
    "restart_limit": Setting("restart_limit", _count(MAX_COUNT)),
    "restart_window": Setting("restart_window_ms", _timeout),
    "stop_retries": Setting("stop_retries", _count(MAX_COUNT)),
    "stop_retry_interval": Setting("stop_retry_interval_ms", parse_duration_ms),
    "native_ip": Setting("native_ip", parse_bool, ip_only=True),
    "arp_count": Setting("arp_count", _count(MAX_ARP_COUNT), ip_only=True),
    "arp_interval": Setting("arp_interval_ms", _arp_interval, ip_only=True),
}
"""hbtwist.cf's settings by name, as written on a line of their own or as NAME=VALUE."""


class _Reader:
    """What has been read from hbtwist.cf so far."""

    def __init__(self, log: FileLog, resources: Sequence[Resource] | None) -> None:
        self.log = log
        self.known = None if resources is None else {resource.text: resource for resource in resources}
        self.defaults: dict[str, Any] = {}
        self.default_lines: dict[str, int] = {}
        self.overrides: list[tuple[str, dict[str, Any]]] = []
        self.resource_lines: dict[str, int] = {}


def parse_settings(
    source: SourceFile, log: FileLog, resources: Sequence[Resource] | None
) -> ResourceSettings:
    """The `ResourceSettings` of `source`; every problem goes to `log` (the result is then not
    to be used). `resource` lines must name one of `resources` (haresources' resources) by its
    text; None means haresources could not be read whole, and the names are not checked."""
    reader = _Reader(log, resources)
    for number, text in source.numbered():
        _read_line(reader, text, number)
    default = dataclasses.replace(ResourcePolicy(), **reader.defaults)
    overrides = tuple(
        (text, dataclasses.replace(default, **values)) for text, values in reader.overrides
    )
    return ResourceSettings(default, overrides, source.path)


def _read_line(reader: _Reader, text: str, line: int) -> None:
    content = re.split("[\r\n]", text.split("#", 1)[0], maxsplit=1)[0]
    words = split_words(content, WHITESPACE)
    if not words:
        return
    if not is_text(content):
        reader.log.error(line, f"the line is not text (binary data, or not UTF-8): {shown(content)}")
        return
    name, values = words[0], words[1:]
    if name == RESOURCE:
        _read_resource(reader, values, line)
    elif name in SETTINGS:
        _read_default(reader, name, values, line)
    else:
        reader.log.error(line, _unknown_directive(name))


def _unknown_directive(name: str) -> str:
    if name in _HACF_WORDS:
        return f"unknown directive {shown(name)} (an ha.cf directive: it belongs in ha.cf)"
    close = difflib.get_close_matches(name, [*SETTINGS, RESOURCE], n=1, cutoff=0.8)
    hint = f" (did you mean {shown(close[0])}?)" if close else ""
    return f"unknown directive {shown(name)}{hint}"


def _read_default(reader: _Reader, name: str, values: list[str], line: int) -> None:
    if not values:
        reader.log.error(line, f"{name}: missing value")
        return
    if len(values) > 1:
        reader.log.error(line, f"{name}: expected one value, not {shown(' '.join(values))}")
        return
    if name in reader.default_lines:
        reader.log.error(line, f"{name} is set again (first on line {reader.default_lines[name]})")
        return
    reader.default_lines[name] = line
    setting = SETTINGS[name]
    try:
        reader.defaults[setting.field] = setting.parse(values[0])
    except ValueError as error:
        reader.log.error(line, f"{name}: {error}")


def _read_resource(reader: _Reader, words: list[str], line: int) -> None:
    if not words:
        reader.log.error(line, f"{RESOURCE}: missing resource (as written in haresources)")
        return
    text, assignments = words[0], words[1:]
    resource = _check_resource(reader, text, line)
    if not assignments:
        reader.log.error(line, f"{RESOURCE} {shown(text)}: no settings (NAME=VALUE after it)")
        return
    values: dict[str, Any] = {}
    given: list[str] = []
    for word in assignments:
        problem = _assign(values, given, word)
        if problem is not None:
            reader.log.error(line, f"{RESOURCE} {shown(text)}: {problem}")
    if resource is not None and resource.script not in NATIVE_IP_SCRIPTS:
        for name in (name for name in given if SETTINGS[name].ip_only):
            reader.log.warn(
                line,
                f"{RESOURCE} {shown(text)}: {name} has no effect (IPaddr and IPaddr2 resources only)",
            )
    if text not in reader.resource_lines:
        reader.resource_lines[text] = line
        reader.overrides.append((text, values))


def _check_resource(reader: _Reader, text: str, line: int) -> Resource | None:
    """The resource `text` names; None (after an error) if it is unknown or was set before,
    or if the names are not checked."""
    if text in reader.resource_lines:
        first = reader.resource_lines[text]
        reader.log.error(line, f"{RESOURCE} {shown(text)} is set again (first on line {first})")
        return None
    if reader.known is None:
        return None
    if text not in reader.known:
        reader.log.error(line, f"unknown resource {shown(text)} (not in haresources)")
        return None
    return reader.known[text]


def _assign(values: dict[str, Any], given: list[str], word: str) -> str | None:
    """Read one NAME=VALUE of a resource line into `values`; the problem, if there is one."""
    name, equals, text = word.partition("=")
    if not equals or not name or not text:
        return f"expected NAME=VALUE, not {shown(word)}"
    setting = SETTINGS.get(name)
    if setting is None:
        close = difflib.get_close_matches(name, list(SETTINGS), n=1, cutoff=0.8)
        hint = f" (did you mean {shown(close[0])}?)" if close else ""
        return f"unknown setting {shown(name)}{hint}"
    if name in given:
        return f"{name} is given twice"
    given.append(name)
    try:
        values[setting.field] = setting.parse(text)
    except ValueError as error:
        return f"{name}: {error}"
    return None


def describe(policy: ResourcePolicy, base: ResourcePolicy | None = None) -> str:
    """`policy` as hbtwist.cf would write it (`name value, ...`); with `base`, only what differs."""
    parts = []
    for name, setting in SETTINGS.items():
        value = getattr(policy, setting.field)
        if base is not None and value == getattr(base, setting.field):
            continue
        if isinstance(value, bool):
            parts.append(f"{name} {'on' if value else 'off'}")
        elif setting.field == "monitor_interval_ms" and value == 0:
            parts.append(f"{name} 0 (off)")
        elif setting.field.endswith("_ms"):
            parts.append(f"{name} {value} ms")
        else:
            parts.append(f"{name} {value}")
    return ", ".join(parts) if parts else "same as the default"
