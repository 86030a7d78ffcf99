"""hbctl's one-shot commands on a UNIX socket: no Twisted, and the same output as on the reactor.

The daemon is the real `ControlProtocol` of node alpha of a simulated three-node cluster (beta
active with eth1 cut, gamma crashed; see test_hbctl_clstatus), served on a UNIX socket by a
thread. hbctl runs in this process (`main`) or as a subprocess; its output is compared with
the same command run through Twisted's client in memory.
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest
from twisted.internet.defer import Deferred
from twisted.internet.protocol import Protocol
from twisted.protocols import amp

from hbtwist.cli import oneshot, remote
from hbtwist.cli.main import build_parser, command_word, main
from hbtwist.control.server import ControlProtocol
from hbtwist.control.view import NodeView
from tests.doubles.control import connect_in_memory, run_pumped
from tests.unit.test_ampsocket import Daemon, Peer, Silent, serve
from tests.unit.test_hbctl_clstatus import CASES, ERRORS, view

__all__ = ["serve", "view"]
"""The fixtures this module takes from its neighbours."""

Serve = Callable[[Callable[[], Protocol]], Peer]
Outcome = tuple[str, str, int]

HEAVY = ("twisted", "zope", "OpenSSL", "cryptography", "hbtwist.config", "hbtwist.media")
"""What a one-shot query must not import: Twisted and what comes with it, the configuration."""

SAME_ON_BOTH_PATHS = [
    ["status"],
    ["status", "--json"],
    ["nodes"],
    ["nodes", "--json"],
    ["nodes", "beta", "gamma"],
    ["nodes", "delta"],
    ["links"],
    ["links", "--json"],
    ["links", "beta"],
    ["links", "delta"],
    ["version"],
    ["version", "--json"],
    ["resources"],
    ["resources", "--json"],
    ["standby"],
    ["takeover", "foreign"],
    ["nodestatus", "x" * 70_000],
]


@pytest.fixture
def daemon(view: NodeView, serve: Serve) -> Iterator[Peer]:
    """Node alpha's control protocol on a UNIX socket."""
    yield serve(lambda: ControlProtocol(view))


def one_shot(capsys: pytest.CaptureFixture[str], address: str, *argv: str) -> Outcome:
    """Run `hbctl ARGV --control ADDRESS` in this process: (stdout, stderr, exit status)."""
    status = main([*argv, "--control", address])
    out, err = capsys.readouterr()
    return out, err, status


def in_memory(view: NodeView, capsys: pytest.CaptureFixture[str], *argv: str) -> Outcome:
    """Run the command of `hbctl ARGV` through Twisted's client in memory, with the errors
    `run_remote` reports on the reactor."""
    args = build_parser().parse_args(list(argv))
    client, _, pump = connect_in_memory(view)
    out = io.StringIO()
    try:
        status = run_pumped(pump, args.handler(client, args, out))
    except amp.TooLong as problem:
        status = remote.report_too_long(problem.keyName, problem.value)
    return out.getvalue(), capsys.readouterr().err, status


@pytest.mark.parametrize(
    ("argv", "stdout", "stderr", "status"),
    [(argv, out, "", status) for argv, out, status in CASES]
    + [(argv, "", err, status) for argv, err, status in ERRORS],
    ids=[" ".join(case[0]) for case in CASES + ERRORS],
)
def test_cl_status_commands(
    daemon: Peer,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    stdout: str,
    stderr: str,
    status: int,
) -> None:
    """Every cl_status case prints exactly cl_status's text and exits as it does."""
    assert one_shot(capsys, daemon.address, *argv) == (stdout, stderr, status)


@pytest.mark.parametrize("argv", SAME_ON_BOTH_PATHS, ids=lambda argv: " ".join(argv)[:40])
def test_same_output_as_on_the_reactor(
    daemon: Peer, view: NodeView, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    """hbctl's own commands print and exit as through Twisted's client (tables, JSON, refusals
    of unknown nodes and of a request too long for AMP)."""
    expected = in_memory(view, capsys, *argv)
    assert one_shot(capsys, daemon.address, *argv) == expected


def test_no_twisted_and_no_configuration(daemon: Peer) -> None:
    """A one-shot query in a fresh interpreter imports neither Twisted nor the configuration."""
    code = (
        "import sys\n"
        "from hbtwist.cli.main import main\n"
        f"status = main(['listnodes', '--control', {daemon.address!r}])\n"
        f"print(sorted(name for name in sys.modules if name.startswith({HEAVY!r})))\n"
        "sys.exit(status)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert (result.stdout, result.stderr, result.returncode) == ("gamma\nbeta\nalpha\n[]\n", "", 0)


def test_building_the_parser_imports_nothing_heavy() -> None:
    """Building hbctl's parser imports no command's machinery (Twisted, the configuration)."""
    code = (
        "import sys\n"
        "from hbtwist.cli.main import build_parser\n"
        "build_parser()\n"
        f"print(sorted(name for name in sys.modules if name.startswith({HEAVY!r})))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert (result.stdout, result.returncode) == ("[]\n", 0)


def test_timeouts(serve: Serve, capsys: pytest.CaptureFixture[str]) -> None:
    """No answer to `Version` or to the command within --timeout: the reactor's words and
    statuses (12 for cl_status commands, else 1)."""
    silent = serve(Silent)
    assert one_shot(capsys, silent.address, "nodestatus", "beta", "--timeout", "0.2") == (
        "",
        f"hbctl: {silent.address}: no answer from the daemon\n",
        12,
    )
    stalled = serve(Daemon)
    late = "hbctl: no answer from the daemon within 0.2 s\n"
    assert one_shot(capsys, stalled.address, "nodestatus", "beta", "--timeout", "0.2") == (
        "",
        late,
        12,
    )
    assert one_shot(capsys, stalled.address, "nodes", "beta", "--timeout", "0.2") == ("", late, 1)


def test_finish_refuses_a_command_that_waits() -> None:
    """A command that waits for an event cannot run on the one-shot path: RuntimeError."""

    async def waits() -> int:
        await Deferred()
        return 0

    with pytest.raises(RuntimeError, match="needs the reactor"):
        oneshot.finish(waits())


@pytest.mark.parametrize(
    ("argv", "path"),
    [
        (["nodes", "--control", "unix:/run/x.sock"], "one-shot"),
        (["--control", "/run/x.sock", "hbstatus"], "one-shot"),
        (["standby", "--control", "unix:relative.sock"], "one-shot"),
        (["events", "--control", "unix:/run/x.sock"], "reactor"),
        (["listen", "--control", "unix:/run/x.sock"], "reactor"),
        (["send", "app", "--control", "unix:/run/x.sock"], "reactor"),
        (["nodes", "--control", "ssl:alpha:1694"], "reactor"),
        (["nodes", "--control", "unix:"], "reactor"),
    ],
)
def test_which_path(monkeypatch: pytest.MonkeyPatch, argv: list[str], path: str) -> None:
    """One-shot commands on `unix:` addresses take the one-shot path; streams, `send`, `ssl:`
    and malformed addresses the reactor."""
    taken: list[str] = []

    def one_shot_path(args: argparse.Namespace, *_: object) -> int:
        taken.append("one-shot")
        return 0

    def reactor_path(args: argparse.Namespace, *_: object) -> int:
        taken.append("reactor")
        return 0

    monkeypatch.setattr(oneshot, "run_blocking", one_shot_path)
    monkeypatch.setattr(remote, "_run_reactor", reactor_path)
    main(argv)
    assert taken == [path]


# Building only the parser a command line needs


def test_modules_register_the_listed_commands() -> None:
    """`MODULES` lists, in order, exactly the sub-commands each module registers."""
    import importlib

    from hbtwist.cli import clstatus
    from hbtwist.cli.main import MODULES

    for name, commands in MODULES.items():
        subparsers = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(f"hbtwist.cli.{name}").register(subparsers)
        assert tuple(subparsers.choices) == commands
    assert tuple(clstatus.COMMANDS) == MODULES["clstatus"]


@pytest.mark.parametrize(
    ("argv", "word"),
    [
        (["nodes", "beta"], "nodes"),
        (["--control", "/x.sock", "listnodes"], "listnodes"),
        (["--control=/x.sock", "listnodes"], "listnodes"),
        (["--cont", "/x.sock", "status"], "status"),
        (["--", "nodes"], "nodes"),
        (["bogus"], "bogus"),
        (["-h", "nodes"], None),
        (["--version"], None),
        (["--control"], None),
        ([], None),
    ],
)
def test_command_word(argv: list[str], word: str | None) -> None:
    """The sub-command is the first word after top-level `--control` options; any other option
    before it leaves it unknown (the whole parser is built)."""
    assert command_word(argv) == word


@pytest.mark.parametrize(
    "argv",
    [
        ["nodes", "beta", "--json"],
        ["--control", "/x.sock", "status", "--timeout", "2"],
        ["nodes", "-x"],
        ["listnodes", "-x"],
        ["nodes", "--help"],
        ["listnodes", "-h"],
        ["standby", "bogus"],
        ["nodes", "--timeout", "-1"],
        ["events", "--count", "x"],
        ["check"],
    ],
    ids=lambda argv: " ".join(argv),
)
def test_partial_parser_parses_as_the_whole(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    """The parser of one module treats a command line naming one of its sub-commands as the
    whole parser does: same values and command, or same exit status and text."""

    def parse(parser: argparse.ArgumentParser) -> tuple[object, str, str]:
        try:
            values = vars(parser.parse_args(argv))
        except SystemExit as exit:
            return (exit.code, *capsys.readouterr())
        values.pop("run")
        return (values, *capsys.readouterr())

    assert parse(build_parser(command_word(argv))) == parse(build_parser())
