"""Keeping one medium's failures to itself: counted, logged rate-limited, never raised further.

Built-in and plugin media use `Receiver` around the daemon's deliver and `send_failed` when a
send fails; the node service uses `start_links` and `send_all` so that one link can neither
crash the daemon with a traceback nor stop the other links from sending.
"""

from __future__ import annotations

from collections.abc import Sequence

from twisted.logger import Logger

from hbtwist.media.interface import Deliver, IMediumLink, MediumUnavailable, Outgoing

_log = Logger()


def worth_logging(count: int) -> bool:
    """Whether the `count`-th failure of one kind is logged: the 1st, 10th, 100th, every 1000th."""
    return count in (1, 10, 100) or count % 1000 == 0


def send_failed(link: IMediumLink, error: object) -> None:
    """Count a failed send on `link` and log it, rate-limited."""
    link.send_failures += 1
    if worth_logging(link.send_failures):
        _log.warn(
            "Write error on {link}: {error} ({count} so far). Is a cable unplugged?",
            link=link.name,
            error=error,
            count=link.send_failures,
        )


class Receiver:
    """The daemon's deliver, called so that nothing it raises reaches a medium's receive path."""

    def __init__(self, deliver: Deliver) -> None:
        self._deliver = deliver
        self.errors = 0
        """How many received messages the daemon failed to take (an exception was raised)."""

    def __call__(self, data: bytes, link: str, source: object) -> None:
        try:
            self._deliver(data, link, source)
        except Exception:
            self.errors += 1
            if self.errors == 1:
                _log.failure("Handling a message received on {link} failed", link=link)
            elif worth_logging(self.errors):
                _log.warn(
                    "Handling a message received on {link} failed ({count} so far)",
                    link=link,
                    count=self.errors,
                )


def start_links(links: Sequence[IMediumLink]) -> None:
    """Start every link in order; if one cannot start, stop those started and raise
    MediumUnavailable naming its medium (`ucast eth0 -> 10.0.0.2:694: UDP port ... in use`)."""
    for index, link in enumerate(links):
        try:
            link.start()
        except Exception as error:
            if not isinstance(error, MediumUnavailable):
                _log.failure("Starting {link} failed", link=link.name)
            for started in reversed(links[:index]):
                started.stop()
            raise MediumUnavailable(f"{link.medium.describe()}: {_reason(error)}") from None


def send_all(links: Sequence[IMediumLink], outgoing: Outgoing) -> None:
    """Send `outgoing` on every link; a link that raises anyway is counted and logged, and the
    others still send."""
    for link in links:
        try:
            link.send(outgoing)
        except Exception as error:
            send_failed(link, error)


def _reason(error: Exception) -> str:
    if isinstance(error, MediumUnavailable):
        return str(error)
    return f"{type(error).__name__}: {error}"
