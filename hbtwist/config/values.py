"""Value syntax shared by the configuration parsers: words, booleans, integers, ports, names."""

from __future__ import annotations

import ipaddress
import re
import socket

from hbtwist.config.problems import shown

WHITESPACE = " \t\n\r\f"
"""What Heartbeat skips between words (its WHITESPACE)."""

DELIMS = ", \t\n\r\f"
"""What separates the values of an option-list directive (its DELIMS): blanks and commas."""

HA_SERVICE = "ha-cluster"
"""The /etc/services name of Heartbeat's UDP port."""

HA_DEFAULT_PORT = 694
"""The UDP port used when /etc/services has no `ha-cluster` entry."""

MAX_NODE_NAME = 99
"""Longest node name Heartbeat keeps (HOSTLENG is 100 bytes with the terminating NUL)."""

_TRUE = frozenset({"true", "on", "yes", "y", "1"})
_FALSE = frozenset({"false", "off", "no", "n", "0"})
_INTEGER = re.compile(r"[+-]?[0-9]+")
_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_INTERFACE_FORBIDDEN = frozenset("/:" + WHITESPACE)
_MAX_INTERFACE = 15
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def split_words(text: str, separators: str = WHITESPACE) -> list[str]:
    """The non-empty runs of `text` between any of the `separators` characters."""
    return [word for word in re.split(f"[{re.escape(separators)}]+", text) if word]


def ascii_lower(text: str) -> str:
    """`text` with ASCII letters lower-cased only, as Heartbeat lower-cases node names."""
    return text.translate(_ASCII_LOWER)


def parse_bool(text: str) -> bool:
    """A Heartbeat boolean: true/on/yes/y/1 or false/off/no/n/0, in any letter case."""
    word = text.lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError(f"expected a boolean (on/off, yes/no, true/false, 1/0), not {shown(text)}")


def parse_int(text: str, low: int, high: int | None = None) -> int:
    """A decimal integer between `low` and `high` (inclusive; no upper bound if None)."""
    if _INTEGER.fullmatch(text) is None:
        raise ValueError(f"expected a whole number, not {shown(text)}")
    value = int(text)
    if value < low or (high is not None and value > high):
        bounds = f"{low}..{high}" if high is not None else f"at least {low}"
        raise ValueError(f"{value} is out of range ({bounds})")
    return value


def default_udp_port() -> int:
    """The `ha-cluster` UDP port of /etc/services, else 694, as Heartbeat's UDP media use."""
    try:
        return socket.getservbyname(HA_SERVICE, "udp")
    except OSError:
        return HA_DEFAULT_PORT


def parse_port(text: str) -> int:
    """A UDP port: a number 1..65535, or a service name of /etc/services (`ha-cluster` always)."""
    if text == HA_SERVICE:
        return default_udp_port()
    try:
        return parse_int(text, 1, 65535) if text.isdigit() else socket.getservbyname(text, "udp")
    except (ValueError, OSError):
        raise ValueError(
            f"invalid port {shown(text)} (a number 1..65535 or a UDP service name)"
        ) from None


def check_node_name(name: str) -> None:
    """Raise ValueError unless `name` can be a Heartbeat node name."""
    if len(name.encode("utf-8", "surrogateescape")) > MAX_NODE_NAME:
        raise ValueError(f"node name {shown(name)} is longer than {MAX_NODE_NAME} bytes")


def check_interface_name(name: str) -> None:
    """Raise ValueError unless `name` is a possible Linux network interface name."""
    if (
        not name
        or len(name.encode("utf-8", "surrogateescape")) > _MAX_INTERFACE
        or name in (".", "..")
        or any(char in _INTERFACE_FORBIDDEN for char in name)
    ):
        raise ValueError(f"invalid network interface name {shown(name)}")


def looks_like_ipv4(text: str) -> bool:
    """Whether `text` is made of digits and dots only, i.e. meant as an IPv4 address."""
    return bool(text) and all(char.isdigit() or char == "." for char in text) and "." in text


def parse_ipv4(text: str) -> ipaddress.IPv4Address:
    """A dotted-quad IPv4 address, as `inet_pton` accepts it."""
    try:
        return ipaddress.IPv4Address(text)
    except ValueError:
        raise ValueError(f"invalid IPv4 address {shown(text)}") from None


def parse_ipv6(text: str) -> ipaddress.IPv6Address:
    """An IPv6 address without a scope suffix, as `inet_pton` accepts it."""
    if "%" in text:
        raise ValueError(f"invalid IPv6 address {shown(text)}")
    try:
        return ipaddress.IPv6Address(text)
    except ValueError:
        raise ValueError(f"invalid IPv6 address {shown(text)}") from None


def check_host_name(text: str) -> None:
    """Raise ValueError unless `text` is a syntactically valid DNS host name."""
    labels = text[:-1].split(".") if text.endswith(".") else text.split(".")
    if len(text) > 253 or not all(_HOST_LABEL.fullmatch(label) for label in labels):
        raise ValueError(f"invalid host name {shown(text)}")
