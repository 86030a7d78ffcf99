"""Checks of ha.cf media against this host: the interfaces exist and peer names resolve.

Serial devices are not checked here: the daemon opens them at start.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable

from hbtwist.config.media import Medium, SerialMedium, Ucast6Medium, UcastMedium
from hbtwist.config.problems import ProblemLog


def check_host(media: Iterable[Medium], log: ProblemLog) -> None:
    """Record an error for each medium this host cannot run."""
    for medium in media:
        if isinstance(medium, SerialMedium):
            continue
        path, line = medium.location
        problem = _interface_problem(medium.interface) or _peer_problem(medium)
        if problem is not None:
            log.for_file(path).error(line or None, f"{medium.kind}: {problem}")


def _interface_index(name: str) -> int | None:
    try:
        return socket.if_nametoindex(name)
    except OSError:
        return None


def _interface_problem(name: str) -> str | None:
    if _interface_index(name) is None:
        return f"no network interface {name!r} on this host"
    return None


def _peer_problem(medium: Medium) -> str | None:
    if isinstance(medium, UcastMedium):
        try:
            socket.getaddrinfo(medium.peer, None, socket.AF_INET, socket.SOCK_DGRAM)
        except (OSError, UnicodeError):
            return f"cannot resolve peer {medium.peer!r}"
    if isinstance(medium, Ucast6Medium) and medium.scope is not None:
        if ipaddress.IPv6Address(medium.peer).is_link_local:
            scope = medium.scope
            index = int(scope) if scope.isdigit() else _interface_index(scope)
            if index != _interface_index(medium.interface):
                return f"scope {scope!r} of {medium.peer} is not interface {medium.interface!r}"
    return None
