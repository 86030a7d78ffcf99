"""The host's load average for the `ld` field, read at most once a second."""

from __future__ import annotations

from collections.abc import Callable


def read_loadavg(path: str = "/proc/loadavg") -> str:
    """The first line of /proc/loadavg, as Heartbeat sends it in `ld`, or `n/a`."""
    try:
        with open(path, encoding="ascii") as source:
            return source.readline().rstrip("\n") or "n/a"
    except OSError:
        return "n/a"


class CachedLoadavg:
    """The load average read at most once per `period` seconds of `clock`, not per message."""

    def __init__(
        self,
        clock: Callable[[], float],
        period: float = 1.0,
        read: Callable[[], str] = read_loadavg,
    ) -> None:
        self._clock = clock
        self._period = period
        self._read = read
        self._read_at = float("-inf")
        self._value = "n/a"

    def __call__(self) -> str:
        now = self._clock()
        if now - self._read_at >= self._period:
            self._value = self._read()
            self._read_at = now
        return self._value
