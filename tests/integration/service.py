"""A service to fail over and a client that watches it, for measuring failover in the lab.

* `start_echo(lab, host)`: a UDP echo service bound to 0.0.0.0 that appends the name of its
  host to every datagram it answers, so the client knows which node served it.
* `Prober`: a client in its own host that sends a numbered datagram to an address (the virtual
  IP) every 5 ms and records, per reply, when it came and which host answered.
* `measure(replies, killed_at, victim)`: the client-observed gap around a kill, who answered
  after it and whether two hosts ever served at once.
* `kill_host(lab, host, kill)`: a host's death, both cables cut and its daemon killed at once.

The scripts run with the test's interpreter inside the hosts' namespaces; their output goes to
files in the lab's work directory. Every script exits by itself after `lifetime` seconds, and
every wait here is bounded.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import groupby, pairwise
from pathlib import Path
from subprocess import Popen
from typing import Any

from tests.integration.lab import Host, Lab, LabError
from tests.integration.shell import stop_process

ECHO_PORT = 7007
PROBE_INTERVAL = 0.005
STEADY_REPLIES = 100
"""Replies in a row from one host (0.5 s) before the service counts as settled on it."""
LIFETIME = 900.0
"""Seconds after which a lab script exits even if nobody stops it."""
DUPLICATE_WINDOW = 1.0
"""Two hosts answering within this many seconds of each other, interleaved, is duplicate service."""

ECHO_SCRIPT = """\
import socket, sys, time
name, port, lifetime = sys.argv[1].encode(), int(sys.argv[2]), float(sys.argv[3])
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("0.0.0.0", port))
sock.settimeout(1.0)
print("listening", flush=True)
end = time.monotonic() + lifetime
while time.monotonic() < end:
    try:
        data, peer = sock.recvfrom(512)
    except socket.timeout:
        continue
    sock.sendto(data + b" " + name, peer)
"""

PROBE_SCRIPT = """\
import select, socket, sys, time
target, port = sys.argv[1], int(sys.argv[2])
interval, lifetime = float(sys.argv[3]), float(sys.argv[4])
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.setblocking(False)
out = sys.stdout
start = time.monotonic()
next_send, seq = start, 0
print("started", flush=True)
while time.monotonic() - start < lifetime:
    now = time.monotonic()
    if now >= next_send:
        seq += 1
        try:
            sock.sendto(b"%d %.6f" % (seq, time.time()), (target, port))
        except OSError:
            pass
        next_send = max(next_send + interval, now)
        continue
    readable, _, _ = select.select([sock], [], [], next_send - now)
    if not readable:
        continue
    while True:
        try:
            data = sock.recv(512)
        except OSError:
            break
        out.write("%.6f %s\\n" % (time.time(), data.decode(errors="replace")))
    out.flush()
"""


def _wait_for_line(proc: Popen[Any], path: Path, line: str, timeout: float) -> None:
    """Wait until the script writing to `path` prints `line` (or fail if it exits)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if line in path.read_text(errors="replace").splitlines():
                return
        except FileNotFoundError:
            pass
        if proc.poll() is not None:
            raise LabError(f"{path.name}: exited with status {proc.returncode} before {line!r}")
        if time.monotonic() > deadline:
            raise LabError(f"{path.name}: no {line!r} within {timeout} s")
        time.sleep(0.02)


def start_echo(lab: Lab, host: Host, port: int = ECHO_PORT, lifetime: float = LIFETIME) -> Popen[Any]:
    """Start the echo service on `host` (answering with the host's name); returns once bound."""
    log = lab.host_dir(host) / "echo.log"
    log.unlink(missing_ok=True)
    argv = [sys.executable, "-c", ECHO_SCRIPT, host.name, str(port), str(lifetime)]
    proc = lab.spawn(host, argv, stdout=log, stderr=log)
    _wait_for_line(proc, log, "listening", timeout=10.0)
    return proc


@dataclass(frozen=True)
class Reply:
    """One answer the client received."""

    received: float
    """Wall-clock time the client read it."""
    seq: int
    sent: float
    """Wall-clock time the client sent the datagram answered."""
    host: str
    """The host whose echo service answered."""


def parse_reply(line: str) -> Reply | None:
    """A prober output line (`received seq sent host`) as a Reply; None if it is not one."""
    words = line.split()
    if len(words) != 4:
        return None
    try:
        return Reply(float(words[0]), int(words[1]), float(words[2]), words[3])
    except ValueError:
        return None


class Prober:
    """A client on `client` sending a numbered datagram to `target` every `interval` seconds.

    `replies()` returns what it has recorded so far (read incrementally from its output file).
    """

    def __init__(
        self,
        lab: Lab,
        client: Host,
        target: str,
        *,
        name: str = "probe",
        port: int = ECHO_PORT,
        interval: float = PROBE_INTERVAL,
        lifetime: float = LIFETIME,
    ) -> None:
        self.target = target
        self.path = lab.host_dir(client) / f"{name}.txt"
        self.path.unlink(missing_ok=True)
        argv = [sys.executable, "-c", PROBE_SCRIPT, target, str(port), str(interval), str(lifetime)]
        self.proc = lab.spawn(client, argv, stdout=self.path, stderr=self.path)
        self._replies: list[Reply] = []
        self._offset = 0
        self._partial = b""
        _wait_for_line(self.proc, self.path, "started", timeout=10.0)

    def replies(self) -> list[Reply]:
        """Every reply recorded so far, in the order received."""
        with open(self.path, "rb") as output:
            output.seek(self._offset)
            data = output.read()
        self._offset += len(data)
        *lines, self._partial = (self._partial + data).split(b"\n")
        for line in lines:
            reply = parse_reply(line.decode(errors="replace"))
            if reply is not None:
                self._replies.append(reply)
        return self._replies

    def wait_for(
        self, predicate: Callable[[list[Reply]], bool], timeout: float, what: str
    ) -> list[Reply]:
        """Poll the replies until `predicate(replies)` holds; LabError after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            replies = self.replies()
            if predicate(replies):
                return replies
            if self.proc.poll() is not None:
                raise LabError(f"the prober exited (status {self.proc.returncode}) waiting for {what}")
            if time.monotonic() > deadline:
                last = f"last reply: {replies[-1]}" if replies else "no reply at all"
                raise LabError(f"{what} not seen within {timeout} s ({last})")
            time.sleep(0.02)

    def wait_answering(
        self, host: str, since: float, count: int = STEADY_REPLIES, timeout: float = 30.0
    ) -> None:
        """Wait until the last `count` replies, all received after `since`, came from `host`."""

        def steady(replies: list[Reply]) -> bool:
            last = replies[-count:]
            return len(last) == count and all(r.host == host and r.received >= since for r in last)

        self.wait_for(steady, timeout, f"{host} answering at {self.target} ({count} replies in a row)")

    def stop(self) -> None:
        """Stop the client (it is reaped; its output file stays)."""
        stop_process(self.proc)


@dataclass(frozen=True)
class Failover:
    """What the client saw around a kill."""

    gap: float | None
    """The longest time between consecutive replies around the kill (s); None when no other
    host answered after the kill (no takeover)."""
    before: str | None
    """The host answering just before the kill."""
    after: str | None
    """The host of the last reply observed."""
    hosts_after: tuple[str, ...]
    """Every host that answered after the longest gap, in order of first reply."""
    duplicate: bool
    """From the last answer before the kill on, two hosts answered within DUPLICATE_WINDOW of
    each other, interleaved (A, B, A), or both answered one datagram."""
    replies: int
    """Replies in the measured window."""


def interleaved(replies: Sequence[Reply], window: float = DUPLICATE_WINDOW) -> bool:
    """Whether a host answered, then another, then the first again, all within `window` seconds,
    or one datagram was answered by two hosts."""
    answered: dict[int, str] = {}
    for reply in replies:
        if answered.setdefault(reply.seq, reply.host) != reply.host:
            return True
    # Where the answering host changes: a change back within the window is two hosts serving.
    changes = [b for a, b in pairwise(replies) if a.host != b.host]
    return any(later.received - earlier.received <= window for earlier, later in pairwise(changes))


def turns(replies: Sequence[Reply]) -> list[str]:
    """The answering hosts in turn, in the order the datagrams were sent (a late answer to an
    earlier datagram can arrive after the next host's first one): one entry per uninterrupted
    run of one host's answers (`["node1", "node2"]` is one handover; a host coming back shows
    twice)."""
    in_order = sorted(replies, key=lambda reply: reply.seq)
    return [host for host, _ in groupby(reply.host for reply in in_order)]


def answered_twice(replies: Sequence[Reply]) -> list[int]:
    """The datagrams (by number) that more than one host answered."""
    hosts: dict[int, set[str]] = {}
    for reply in replies:
        hosts.setdefault(reply.seq, set()).add(reply.host)
    return sorted(seq for seq, answered in hosts.items() if len(answered) > 1)


def handover_gap(replies: Sequence[Reply], since: float, giver: str, taker: str) -> float | None:
    """The client-observed gap of a move from `giver` to `taker` begun at `since`: from the reply
    just before the taker's first one after `since` to that first one. None when the taker never
    answered after `since`, or the reply before its first one did not come from the giver."""
    for earlier, later in pairwise(replies):
        if later.received >= since and later.host == taker:
            return later.received - earlier.received if earlier.host == giver else None
    return None


def measure(
    replies: Sequence[Reply], killed_at: float, victim: str | None, lookback: float = 1.0
) -> Failover:
    """The failover the client saw when `victim` was killed at `killed_at`: the replies from
    `lookback` s before the kill onwards. No reply after the kill from a host other than
    `victim` (from any host, for None) is no takeover: gap None."""
    window = [reply for reply in replies if reply.received >= killed_at - lookback]
    before = [reply.host for reply in window if reply.received < killed_at]
    previous = before[-1] if before else None
    # From the last answer before the kill: the handover and what followed.
    duplicate = interleaved(window[max(len(before) - 1, 0) :])
    if not any(reply.received >= killed_at and reply.host != victim for reply in window):
        return Failover(None, previous, None, (), duplicate, len(window))
    gaps = [(b.received - a.received, index) for index, (a, b) in enumerate(pairwise(window))]
    gap, index = max(gaps, default=(0.0, -1))
    hosts_after = tuple(dict.fromkeys(reply.host for reply in window[index + 1 :]))
    return Failover(gap, previous, window[-1].host, hosts_after, duplicate, len(window))


def kill_host(lab: Lab, host: Host, kill: Callable[[], None]) -> float:
    """The host dies: LAN B cut, LAN A cut, then `kill()` (SIGKILL of its daemon), at once.

    LAN A, which carries the client's traffic, is cut second: from then on neither the client
    nor the peer hears the host. Returns the time just before that cut.
    """
    lab.cut(host, "b")
    killed_at = lab.cut(host, "a")
    kill()
    return killed_at


def holds_address(host: Host, address: str, interface: str = "eth0") -> bool:
    """Whether `address` is configured on `host`'s `interface`."""
    shown = host.run("ip", "-o", "-4", "addr", "show", "dev", interface).stdout
    return any(word.split("/")[0] == address for word in shown.split())


def drop_address(host: Host, address: str, prefix: int = 24, interface: str = "eth0") -> None:
    """Remove `address` from `host` if it is there (a dead host's stale virtual IP)."""
    if holds_address(host, address, interface):
        host.run("ip", "addr", "del", f"{address}/{prefix}", "dev", interface)


def wait_until(condition: Callable[[], bool], timeout: float, what: str, poll: float = 0.02) -> None:
    """Poll `condition` until it holds; LabError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise LabError(f"{what} not seen within {timeout} s")
        time.sleep(poll)


def pid_gone(pid: int) -> bool:
    """Whether process `pid` is gone: exited and reaped (a zombie is still there)."""
    return not os.path.exists(f"/proc/{pid}")
