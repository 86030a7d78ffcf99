"""The host check, done once at the edge by `hbctl check` and by the daemon before it builds
anything: each configured medium's plugin says whether this host can carry it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from hbtwist.config import ConfigError, Problem
from hbtwist.media.interface import IMediumType, MediumUnavailable


def host_problems(media: Iterable[Any], kinds: Mapping[str, IMediumType]) -> list[Problem]:
    """One `FILE:LINE: kind: reason` problem per medium (an IMedium) this host cannot carry."""
    problems = []
    for medium in media:
        path, line = medium.location
        reason = _reason(medium, kinds.get(medium.kind))
        if reason is not None:
            problems.append(Problem(path, line or None, f"{medium.kind}: {reason}"))
    return problems


def check_host(media: Iterable[Any], kinds: Mapping[str, IMediumType]) -> None:
    """Every medium has a plugin and this host can carry it, else ConfigError listing each one."""
    problems = host_problems(media, kinds)
    if problems:
        raise ConfigError(tuple(problems))


def _reason(medium: Any, kind: IMediumType | None) -> str | None:
    if kind is None:
        return f"no medium plugin provides {medium.kind!r}"
    try:
        kind.check_host(medium)
    except MediumUnavailable as error:
        return str(error)
    except Exception as error:
        return f"host check failed: {type(error).__name__}: {error}"
    return None
