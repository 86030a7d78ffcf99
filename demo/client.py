"""The demo's client: asks the echo service on 127.0.0.1 every 100 ms which node answers.

`Client` keeps one UDP probe in flight; a probe is answered by a node's name, or counts as
`None` (no answer) when the port is closed or nothing came back before the next probe is due.
It gathers the answers into one line per second and notes every change of answerer.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from itertools import groupby

PROBE_INTERVAL = 0.1
LINE_INTERVAL = 1.0

Answer = str | None
"""The node that answered a probe, or None."""


@dataclass(frozen=True)
class Change:
    """The answerer changed: at `time` (of the probe), from `old` to `new`."""

    time: float
    old: Answer
    new: Answer


def describe(answers: list[Answer]) -> str:
    """Who answered, in order, runs merged: `n1 answers`, `n1 answers, then no answer`."""
    if not answers:
        return "no probe"
    runs = [key for key, _ in groupby(answers)]
    return ", then ".join("no answer" if node is None else f"{node} answers" for node in runs)


@dataclass
class Tally:
    """The answers to a client's probes: the last one, each change, and the current second."""

    last: Answer = None
    started: bool = False
    changes: list[Change] = field(default_factory=list)
    second: list[Answer] = field(default_factory=list)

    def record(self, time: float, answer: Answer) -> Change | None:
        """Count one probe's answer; the change it makes, if any."""
        self.second.append(answer)
        if self.started and answer == self.last:
            return None
        change = Change(time, self.last, answer) if self.started else None
        self.started, self.last = True, answer
        if change is not None:
            self.changes.append(change)
        return change

    def line(self) -> str:
        """The current second's answers as one line; starts the next second."""
        text, self.second = describe(self.second), []
        return text

    def first_answer(self, after: float, node: Answer) -> float | None:
        """When `node` began answering after `after` (None: it did not)."""
        for change in self.changes:
            if change.time >= after and change.new == node:
                return change.time
        return None


class Client:
    """Probes 127.0.0.1:`port` over UDP; `tick` and `receive` are driven by the demo's loop."""

    def __init__(self, port: int, now: float) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        self.sock.connect(("127.0.0.1", port))
        self.tally = Tally()
        self.sent_at: float | None = None
        self.next_probe = now
        self.next_line = now + LINE_INTERVAL

    def fileno(self) -> int:
        """The socket, for the demo's selector."""
        return self.sock.fileno()

    def due(self) -> float:
        """When `tick` must run next."""
        return min(self.next_probe, self.next_line)

    def tick(self, now: float) -> tuple[list[Change], str | None]:
        """Send the next probe when due (an unanswered one counts as no answer); the changes
        that made, and the line for the second just ended when one has."""
        changes = []
        if now >= self.next_probe:
            if self.sent_at is not None:
                changes.append(self.tally.record(self.sent_at, None))
            self.sent_at = now
            self.next_probe = max(self.next_probe + PROBE_INTERVAL, now)
            try:
                self.sock.send(b"which node?")
            except OSError:
                changes.append(self.tally.record(now, None))
                self.sent_at = None
        line = None
        if now >= self.next_line:
            line = self.tally.line()
            self.next_line = max(self.next_line + LINE_INTERVAL, now)
        return [change for change in changes if change is not None], line

    def receive(self) -> list[Change]:
        """Read every reply waiting; the changes they made."""
        changes = []
        while True:
            try:
                data = self.sock.recv(512)
            except BlockingIOError:
                break
            except OSError:
                data = None
            if self.sent_at is not None:
                answer = data.decode(errors="replace") if data else None
                changes.append(self.tally.record(self.sent_at, answer))
                self.sent_at = None
            if data is None:
                break
        return [change for change in changes if change is not None]

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()
