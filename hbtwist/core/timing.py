"""The timers of ha.cf that drive membership."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Timing:
    """The timers of ha.cf, in milliseconds."""

    keepalive_ms: int
    deadtime_ms: int
    warntime_ms: int
    initdead_ms: int
