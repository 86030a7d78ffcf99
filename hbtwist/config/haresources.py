"""Reading haresources into resource groups, as Heartbeat's ResourceManager reads it (spec 8.4).

Each line is `<preferred-node> <resource>...`; `#` starts a comment; a line ending in `\\` is
joined to the next (the backslash and newline are removed, nothing is inserted). A resource is
`Script` or `Script::arg1::arg2`; a word shaped like `d.d.d.d...` stands for `IPaddr::<word>`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from fnmatch import fnmatchcase

from hbtwist.config.model import Resource, ResourceGroup
from hbtwist.config.problems import FileLog, is_text, shown
from hbtwist.config.source import SourceFile
from hbtwist.config.values import (
    WHITESPACE,
    ascii_lower,
    check_interface_name,
    parse_int,
    parse_ipv4,
    split_words,
)

IP_SHORTHAND = "[0-9]*.[0-9]*.[0-9]*.[0-9]*"
"""ResourceManager's `isip` pattern: such a resource means `IPaddr::<resource>`."""


def parse_haresources(
    source: SourceFile, log: FileLog, nodes: Sequence[str] | None
) -> tuple[ResourceGroup, ...]:
    """The resource groups of `source` in file order; problems go to `log`.

    Preferred nodes must be among `nodes` (not checked when None: ha.cf could not be read).
    """
    groups: list[ResourceGroup] = []
    key_lines: dict[str, int] = {}
    for line, text in _logical_lines(source):
        if not is_text(text):
            log.error(line, f"the line is not text (binary data, or not UTF-8): {shown(text)}")
            continue
        words = split_words(text, WHITESPACE)
        node = ascii_lower(words[0])
        if nodes is not None and node not in nodes:
            log.error(line, f"unknown node {shown(words[0])}")
            continue
        if len(words) < 2:
            log.error(line, f"no resources for node {shown(node)}")
            continue
        resources = []
        for word in words[1:]:
            try:
                resources.append(parse_resource(word))
            except ValueError as error:
                log.error(line, f"resource {shown(word)}: {error}")
        if len(resources) != len(words) - 1:
            continue
        group = ResourceGroup(node, tuple(resources), (source.path, line))
        if group.key in key_lines:
            log.error(
                line, f"duplicate group key {shown(group.key)} (first on line {key_lines[group.key]})"
            )
            continue
        key_lines[group.key] = line
        groups.append(group)
    return tuple(groups)


def _logical_lines(source: SourceFile) -> Iterator[tuple[int, str]]:
    """(first line number, text) of each non-empty line after comments and continuations."""
    start, pending = 0, ""
    for number, text in source.numbered():
        if not pending:
            start = number
        text = pending + text.split("#", 1)[0]
        if text.endswith("\\"):
            pending = text[:-1]
            continue
        pending = ""
        if text.strip(WHITESPACE):
            yield start, text
    if pending.strip(WHITESPACE):
        yield start, pending


def parse_resource(word: str) -> Resource:
    """The resource written as `word`; ValueError if it is malformed."""
    canonical = f"IPaddr::{word}" if fnmatchcase(word, IP_SHORTHAND) else word
    script, separator, rest = canonical.partition("::")
    args = tuple(rest.replace("::", " ").split()) if separator else ()
    if not script:
        raise ValueError("empty script name")
    if "/" in script:
        raise ValueError(f"script name {shown(script)} must not contain '/'")
    check = _ARGUMENT_CHECKS.get(script)
    if check is not None:
        check(args)
    return Resource(script, args, word)


def _check_ip_resource(args: tuple[str, ...], script: str, labels: bool) -> None:
    syntax = f"{script}::ip[/bits[/nic{'[:label]' if labels else ''}[/broadcast]]]"
    if len(args) != 1:
        raise ValueError(f"expected one argument: {syntax}")
    ip, *parts = args[0].split("/")
    parse_ipv4(ip)
    if len(parts) > 3:
        raise ValueError(f"too many parts in {shown(args[0])} ({syntax})")
    if parts and parts[0]:
        _check_netmask(parts[0])
    if len(parts) >= 2:
        if parts[1][:1].isdigit():
            if len(parts) > 2:
                raise ValueError(f"a broadcast address must be the last part ({syntax})")
            parse_ipv4(parts[1])
        else:
            _check_nic(parts[1], labels)
    if len(parts) == 3:
        parse_ipv4(parts[2])


def _check_netmask(text: str) -> None:
    if "." in text:
        try:
            netmask = parse_ipv4(text)
        except ValueError:
            raise ValueError(f"invalid netmask {shown(text)}") from None
        if "01" in format(int(netmask), "032b"):
            raise ValueError(f"invalid netmask {shown(text)}")
    else:
        try:
            parse_int(text, 1, 32)
        except ValueError:
            raise ValueError(f"invalid netmask {shown(text)} (1..32 bits)") from None


def _check_nic(text: str, labels: bool) -> None:
    name, colon, label = text.partition(":") if labels else (text, "", "")
    check_interface_name(name)
    if colon and not label:
        raise ValueError(f"empty label in {shown(text)}")


def _check_ocf(args: tuple[str, ...]) -> None:
    if len(args) != 2:
        raise ValueError("expected OCF::<agent type>::<instance name>")


_ARGUMENT_CHECKS = {
    "IPaddr": lambda args: _check_ip_resource(args, "IPaddr", labels=False),
    "IPaddr2": lambda args: _check_ip_resource(args, "IPaddr2", labels=True),
    "OCF": _check_ocf,
}
"""Scripts whose arguments are checked here (others are checked by the scripts themselves)."""
