"""Heartbeat's `OnlyForTesting` packet-loss hook: the file read as Heartbeat reads it, with
FILE:LINE errors, the loss it asks for, and its reload on SIGHUP."""

from __future__ import annotations

import os
import random
import signal
from collections.abc import Callable
from pathlib import Path

from hbtwist.config.testhook import LossHook, read_test_hook
from hbtwist.daemon.testhook import LossHookControl


class AlwaysLoses(random.Random):
    """Every draw is below any loss probability."""

    def random(self) -> float:
        return 0.0


def test_an_absent_file_is_no_hook(tmp_path: Path) -> None:
    """No `OnlyForTesting`: no hook and no problem."""
    assert read_test_hook(str(tmp_path)) == (None, [])


def test_break_communication_file_is_read(tmp_path: Path) -> None:
    """The file `TestHeartbeatComm break-communication n1 n2` writes is read whole."""
    (tmp_path / "OnlyForTesting").write_text("xmitloss=1\nrcvloss=1\nallownodes=n1;n2;\n")
    hook, problems = read_test_hook(str(tmp_path))
    assert problems == []
    assert hook == LossHook(xmitloss=1.0, rcvloss=1.0, allownodes="n1;n2;")
    assert hook.allowed == {"n1", "n2"}


def test_bad_lines_are_errors_naming_file_and_line(tmp_path: Path) -> None:
    """A line that is no setting, or a loss outside 0..1, is an error with its place; the
    file is then not used."""
    path = tmp_path / "OnlyForTesting"
    path.write_text("xmitloss=0.5\nrcvloss=2\nloss everything\n")
    hook, problems = read_test_hook(str(tmp_path))
    assert hook is None
    assert problems == [
        f"{path}:2: rcvloss: '2' is not a probability from 0 to 1",
        f"{path}:3: expected xmitloss=, rcvloss= or allownodes=, not 'loss everything'",
    ]


def test_sending_is_dropped_only_without_allowed_nodes() -> None:
    """xmitloss drops a datagram only while allownodes is empty or starts with `;`, as in
    Heartbeat; with allowed nodes a node keeps sending and only filters what it receives."""
    rng = AlwaysLoses()
    assert LossHook(xmitloss=1.0).drops_sent(rng)
    assert LossHook(xmitloss=1.0, allownodes=";n1;").drops_sent(rng)
    assert not LossHook(xmitloss=1.0, allownodes="n1;").drops_sent(rng)
    assert not LossHook(xmitloss=0.0).drops_sent(rng)


def test_receiving_drops_all_but_the_allowed_nodes() -> None:
    """rcvloss drops messages from every node but those of allownodes (names folded)."""
    hook = LossHook(rcvloss=1.0, allownodes="N1;n2;")
    rng = AlwaysLoses()
    assert not hook.drops_received("n1", rng)
    assert not hook.drops_received("n2", rng)
    assert hook.drops_received("n3", rng)


class CallingReactor:
    """Runs what is handed to it from a signal handler once `run` is called."""

    def __init__(self) -> None:
        self.calls: list[Callable[[], None]] = []

    def callFromThread(self, function: Callable[[], None]) -> None:  # noqa: N802
        self.calls.append(function)

    def run(self) -> None:
        while self.calls:
            self.calls.pop(0)()


def test_sighup_reads_the_hook_again(tmp_path: Path) -> None:
    """A SIGHUP re-reads the file in the reactor thread: writing it breaks communication,
    deleting it heals it; the previous handler is put back afterwards."""
    reactor = CallingReactor()
    control = LossHookControl(str(tmp_path), reactor, AlwaysLoses())
    control.load()
    assert control.hook is None and not control.drops_received("n2")
    before = signal.getsignal(signal.SIGHUP)
    control.watch_sighup()
    try:
        (tmp_path / "OnlyForTesting").write_text("xmitloss=1\nrcvloss=1\nallownodes=n1;\n")
        os.kill(os.getpid(), signal.SIGHUP)
        reactor.run()
        assert control.drops_received("n2") and not control.drops_received("n1")
        (tmp_path / "OnlyForTesting").unlink()
        os.kill(os.getpid(), signal.SIGHUP)
        reactor.run()
        assert control.hook is None
    finally:
        control.stop_watching()
    assert signal.getsignal(signal.SIGHUP) == before
