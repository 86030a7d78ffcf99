"""hbctl's handling of awkward command lines: every one ends in one line and an exit status.

Arguments that are not UTF-8, bad --timeout and --count values, oversized messages, options mixed
with arguments, Ctrl-C, and where the control address comes from. The commands run against a
control client that answers from memory.
"""

from __future__ import annotations

import argparse
import io
from collections.abc import Coroutine, Mapping
from typing import Any

import pytest
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.protocols import amp
from twisted.python.failure import Failure

from hbtwist.cli import check, clstatus, send, status
from hbtwist.cli.main import build_parser, main
from hbtwist.cli.remote import control_target, too_long
from hbtwist.control.client import encode_fields
from hbtwist.control.protocol import UnknownNode

NOT_UTF8 = b"be\xfft".decode("utf-8", "surrogateescape")
"""What Python makes of the argument `$'be\\xfft'` (a byte that is not UTF-8)."""

NODES = {"alpha": "active", "beta": "active"}


class MemoryClient:
    """A control client answering from memory, encoding its arguments as AMP would."""

    address = "unix:/memory"

    def __init__(self) -> None:
        self.sent: list[tuple[dict[str, str], str | None]] = []

    async def version(self) -> dict[str, Any]:
        return {"commands": ["SendMessage", "SendMessages", "Listen"]}

    async def node(self, name: str) -> dict[str, Any]:
        name.encode("utf-8")
        if name not in NODES:
            raise UnknownNode(f"no such node: {name}")
        return {"name": name, "status": NODES[name], "type": "normal", "weight": 100, "site": ""}

    async def links(self, node: str | None = None) -> list[dict[str, Any]]:
        if node is not None:
            await self.node(node)
        return [{"node": name, "link": "eth0", "status": "up"} for name in NODES if node in (None, name)]

    async def parameter(self, name: str) -> str | None:
        name.encode("utf-8")
        return None

    async def send_message(self, fields: Mapping[str, str], dest: str | None = None) -> dict[str, Any]:
        text = encode_fields(fields).encode("utf-8")
        if len(text) > 65535:
            raise amp.TooLong(False, True, text, b"fields")
        self.sent.append((dict(fields), dest))
        return {"queued": 1, "paused": False}


def run(
    capsys: pytest.CaptureFixture[str], *argv: str, client: MemoryClient | None = None
) -> tuple[str, str, int]:
    """Run the command of `hbctl ARGV` against `client`: (stdout, stderr, exit status)."""
    args = build_parser().parse_args(list(argv))
    if "clock" in vars(args):
        args.clock = Clock()
    out = io.StringIO()
    result: list[Any] = []
    work: Coroutine[Any, Any, int] = args.handler(client or MemoryClient(), args, out)
    Deferred.fromCoroutine(work).addBoth(result.append)
    if isinstance(result[0], Failure):
        result[0].raiseException()
    return out.getvalue(), capsys.readouterr().err, result[0]


def usage_status(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """The exit status of `hbctl ARGV` when its command line is refused, and the complaint."""
    with pytest.raises(SystemExit) as raised:
        main(list(argv))
    code = raised.value.code
    assert isinstance(code, int)
    return code, capsys.readouterr().err.splitlines()[-1]


def test_send_value_with_space_after_dest(capsys: pytest.CaptureFixture[str]) -> None:
    """`hbctl send app --dest beta "x=a b"` sends x="a b" to beta: pairs may follow options."""
    client = MemoryClient()
    out, err, code = run(capsys, "send", "app", "--dest", "beta", "x=a b", client=client)
    assert (err, code) == ("", 0)
    assert client.sent == [({"t": "app", "x": "a b"}, "beta")]


def test_send_value_not_utf8(capsys: pytest.CaptureFixture[str]) -> None:
    """A value that is not UTF-8 is refused in one line naming the field, exit 1."""
    client = MemoryClient()
    _, err, code = run(capsys, "send", "app", f"k=caf{NOT_UTF8}", client=client)
    assert (err, code) == ("hbctl: field 'k': not UTF-8 text ('k=cafbe\\xfft')\n", 1)
    assert client.sent == []


def test_send_type_and_dest_not_utf8(capsys: pytest.CaptureFixture[str]) -> None:
    """A message type or --dest that is not UTF-8 is refused in one line, exit 1."""
    assert run(capsys, "send", NOT_UTF8)[1:] == (
        "hbctl: the message type 'be\\xfft' is not UTF-8 text\n",
        1,
    )
    assert run(capsys, "send", "app", "--dest", NOT_UTF8)[1:] == (
        "hbctl: --dest 'be\\xfft': not UTF-8 text, no node\n",
        1,
    )


def test_send_too_big(capsys: pytest.CaptureFixture[str]) -> None:
    """A 70,000-byte value is refused saying what is too big and the limit, exit 1."""
    client = MemoryClient()
    _, err, code = run(capsys, "send", "app", "k=" + "x" * 70000, client=client)
    assert (err, code) == (
        "hbctl: the message is too big: its fields take 70,018 bytes, at most 60,000\n",
        1,
    )
    assert client.sent == []


def test_too_long_names_value_and_limit() -> None:
    """AMP's TooLong becomes a sentence with the argument, its size and the protocol's limit."""
    problem = amp.TooLong(False, True, b"x" * 70000, b"fields")
    assert too_long(problem.keyName, len(problem.value)) == (
        "the request is too long: its 'fields' value takes 70,000 bytes, and the control"
        " protocol carries at most 65,535 bytes in one value"
    )


def test_listen_type_not_utf8(capsys: pytest.CaptureFixture[str]) -> None:
    """`hbctl listen` with a type that is not UTF-8 says so, exit 1."""
    assert run(capsys, "listen", "app", NOT_UTF8)[1:] == (
        "hbctl: the message type 'be\\xfft' is not UTF-8 text\n",
        1,
    )


@pytest.mark.parametrize(
    ("argv", "stderr", "code"),
    [
        (["nodestatus", NOT_UTF8], "Error. May be due to incorrect node name\n", 11),
        (["nodeweight", NOT_UTF8], "Error. Maybe due to incorrect node name.\n", 11),
        (
            ["listhblinks", NOT_UTF8],
            "ERROR: Cannot start heartbeat link interface walk.\n"
            "ERROR: REASON: no such node: be\\xfft\n",
            13,
        ),
        (
            ["hblinkstatus", NOT_UTF8, "eth0"],
            "ERROR: Cannot get heartbeat link status\nERROR: REASON: no such node: be\\xfft\n",
            13,
        ),
        (
            ["hbparameter", "-p", NOT_UTF8],
            "ERROR: Cannot get parameter be\\xfft's value\n"
            "ERROR: REASON: parameter be\\xfft is not set\n",
            1,
        ),
        (["nodes", NOT_UTF8], "hbctl: no such node: be\\xfft\n", 1),
        (["links", NOT_UTF8], "hbctl: no such node: be\\xfft\n", 1),
    ],
)
def test_names_not_utf8_are_unknown(
    capsys: pytest.CaptureFixture[str], argv: list[str], stderr: str, code: int
) -> None:
    """A node or parameter name that is not UTF-8 is simply unknown, with cl_status's status."""
    assert run(capsys, *argv) == ("", stderr, code)


@pytest.mark.parametrize("value", ["-5", "0", "nan", "inf", "soon"])
def test_timeout_must_be_positive(capsys: pytest.CaptureFixture[str], value: str) -> None:
    """A --timeout that is not a positive number is a usage error (11 in cl_status commands)."""
    assert usage_status(capsys, "nodes", "--timeout", value)[0] == 2
    code, complaint = usage_status(capsys, "nodestatus", "beta", "--timeout", value)
    assert code == clstatus.PARAMETER_ERROR
    assert complaint.endswith(f"expected a positive number of seconds, not {value!r}")


@pytest.mark.parametrize("command", ["events", "listen"])
def test_negative_count_refused(capsys: pytest.CaptureFixture[str], command: str) -> None:
    """`--count -1` is a usage error (exit 2); `--count 0` is accepted."""
    code, complaint = usage_status(capsys, command, "--count", "-1")
    assert code == 2 and complaint.endswith("expected a whole number, 0 or more, not '-1'")
    assert build_parser().parse_args([command, "--count", "0"]).count == 0


def test_interrupt_exits_130_quietly(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ctrl-C while a command starts ends hbctl with status 130 and nothing on stderr."""

    def interrupted(args: argparse.Namespace) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(check, "run", interrupted)
    assert main(["check", "/nonexistent"]) == 130
    assert capsys.readouterr() == ("", "")


def namespace(control: str | None = None, global_control: str | None = None) -> argparse.Namespace:
    """The parsed options control_target looks at."""
    return argparse.Namespace(control=control, global_control=global_control)


@pytest.mark.parametrize(
    ("given", "address"),
    [
        ("/run/hbtwist/control.sock", "unix:/run/hbtwist/control.sock"),
        ("./control.sock", "unix:./control.sock"),
        ("control.sock", "unix:control.sock"),
        ("unix:/tmp/c.sock", "unix:/tmp/c.sock"),
        ("ssl:10.0.0.1:1694", "ssl:10.0.0.1:1694"),
    ],
)
def test_control_accepts_a_plain_path(given: str, address: str) -> None:
    """--control takes a socket path as the daemon's --control-socket does, as unix:PATH."""
    assert control_target(namespace(given)) == address


def test_control_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """HBCTL_CONTROL gives the address when no --control does; --control wins over it."""
    monkeypatch.setenv("HBCTL_CONTROL", "/tmp/env.sock")
    assert control_target(namespace()) == "unix:/tmp/env.sock"
    assert control_target(namespace(global_control="/tmp/before.sock")) == "unix:/tmp/before.sock"
    assert control_target(namespace("ssl:alpha:1694")) == "ssl:alpha:1694"
    monkeypatch.delenv("HBCTL_CONTROL")
    assert control_target(namespace()) == "unix:/run/hbtwist/control.sock"


def test_options_anywhere_in_status_commands() -> None:
    """Options may also come between a command's arguments."""
    args = build_parser().parse_args(["nodes", "alpha", "--json", "beta"])
    assert (args.names, args.json) == (["alpha", "beta"], True)
    assert status.nodes is args.handler and send.send is not args.handler
