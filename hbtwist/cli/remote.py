"""What every `hbctl` command that talks to a running daemon shares: options and the run loop.

Commands are coroutines `command(client, args, out) -> exit status`, so tests can run them
against an in-memory connection. `run_remote` runs one against the daemon and turns every way of
not reaching it into one line on stderr and an exit status: a one-shot command on a UNIX socket
through the blocking client of `hbtwist.cli.oneshot` (no Twisted: it answers in a few tens of
milliseconds), a stream or an `ssl:` address through the real reactor (`task.react`).
Twisted is imported only when a command needs it, which keeps `hbctl --help` and `check` fast.
The control address comes from `--control`, else the environment (`HBCTL_CONTROL`), else the
daemon's default socket; a plain path stands for `unix:PATH`, as `--control-socket` takes it.
"""

from __future__ import annotations

import argparse
import math
import os
import sys

from hbtwist.control import DEFAULT_SOCKET

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine
    from typing import Any, TextIO, TypeAlias

    from hbtwist.cli.oneshot import OneShotClient
    from hbtwist.control.ampsocket import Unreachable
    from hbtwist.control.client import ControlClient

    Client: TypeAlias = ControlClient | OneShotClient
    Problem: TypeAlias = Unreachable
    Command: TypeAlias = Callable[[Any, argparse.Namespace, TextIO], Coroutine[Any, Any, int]]
    """A command: a one-shot one takes a `Client` (either kind), a stream a `ControlClient`."""
    OnUnreachable: TypeAlias = Callable[[Problem, argparse.Namespace, TextIO], int]

DEFAULT_CONTROL = f"unix:{DEFAULT_SOCKET}"
CONTROL_VARIABLE = "HBCTL_CONTROL"
FAILURE_EXIT_STATUS = 1
USAGE_EXIT_STATUS = 2
INTERRUPTED_EXIT_STATUS = 130
AMP_MAX_VALUE = 65535


def add_control_options(parser: argparse.ArgumentParser, *, json_option: bool = True) -> None:
    """Add --control, --cert, --key, --ca, --server-name, --timeout (and --json)."""
    group = parser.add_argument_group("connection")
    group.add_argument(
        "--control",
        metavar="ADDRESS",
        help="the daemon's control address: a socket path, unix:PATH or ssl:HOST:PORT "
        f"[default: ${CONTROL_VARIABLE}, else {DEFAULT_CONTROL}]",
    )
    group.add_argument("--cert", metavar="PEM", help="client certificate (ssl: addresses)")
    group.add_argument("--key", metavar="PEM", help="client private key (ssl: addresses)")
    group.add_argument("--ca", metavar="PEM", help="CA that issued the daemon's certificate")
    group.add_argument(
        "--server-name",
        metavar="NAME",
        help="name the daemon's certificate must carry [default: the HOST of --control]",
    )
    group.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=seconds,
        default=5.0,
        help="give up when the daemon does not answer within this many seconds, a positive "
        "number [default: 5]",
    )
    if json_option:
        parser.add_argument("--json", action="store_true", help="print JSON for programs")


def seconds(text: str) -> float:
    """A `--timeout` value: a positive number of seconds (argparse type)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, not {text!r}")
    return value


def count(text: str) -> int:
    """A `--count` value: a whole number, 0 or more (argparse type)."""
    if not (text.isascii() and text.isdigit()):
        raise argparse.ArgumentTypeError(f"expected a whole number, 0 or more, not {text!r}")
    return int(text)


def control_target(args: argparse.Namespace) -> str:
    """The control address: given after the command, else before it, else $HBCTL_CONTROL,
    else the default; a plain path (no `KIND:` in front) becomes `unix:PATH`."""
    text = (
        args.control
        or getattr(args, "global_control", None)
        or os.environ.get(CONTROL_VARIABLE)
        or DEFAULT_CONTROL
    )
    _, colon, _ = text.partition(":")
    if text.startswith(("/", ".")) or not colon:
        return f"unix:{text}"
    return text


def is_utf8(text: str) -> bool:
    """Whether a command-line argument is UTF-8 text (the arguments hold no undecodable bytes)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def printable(text: str) -> str:
    """A command-line argument for a message: undecodable bytes shown as `\\xNN`."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def set_command(parser: argparse.ArgumentParser, handler: Command, **options: Any) -> None:
    """Make `handler` the parser's command: `args.handler` is the coroutine, `args.run` runs it
    against the daemon through `run_remote` with `options`."""
    parser.set_defaults(handler=handler, run=lambda args: run_remote(args, handler, **options))


def default_unreachable(problem: Problem, args: argparse.Namespace, out: TextIO) -> int:
    """hbctl's own report: one line on stderr, exit status 1."""
    print(f"hbctl: {problem.reason}", file=sys.stderr)
    return FAILURE_EXIT_STATUS


def run_remote(
    args: argparse.Namespace,
    command: Command,
    *,
    on_unreachable: OnUnreachable = default_unreachable,
    timeout_exit: int = FAILURE_EXIT_STATUS,
    usage_exit: int = USAGE_EXIT_STATUS,
    streaming: bool = False,
) -> int:
    """Connect to the daemon named by `args`, run `command`, and return its exit status.

    Without `streaming`, the whole command must finish within `--timeout` seconds, and being
    interrupted (Ctrl-C) exits 130; with it, being interrupted is a normal end (exit status 0).
    A command that is not `streaming` on a `unix:` address runs on the blocking client.
    """
    target = control_target(args)
    kind, _, path = target.partition(":")
    if kind == "unix" and path and not streaming:
        from hbtwist.cli.oneshot import run_blocking

        return run_blocking(args, command, path, target, on_unreachable, timeout_exit)
    return _run_reactor(args, command, target, on_unreachable, timeout_exit, usage_exit, streaming)


def _run_reactor(
    args: argparse.Namespace,
    command: Command,
    target: str,
    on_unreachable: OnUnreachable,
    timeout_exit: int,
    usage_exit: int,
    streaming: bool,
) -> int:
    """`run_remote` through Twisted's reactor and client (any address, streams included)."""
    from twisted.internet import defer, task
    from twisted.protocols import amp

    from hbtwist.control import client as control

    _quiet_twisted_log()
    out = sys.stdout
    try:
        address = control.parse_address(target)
    except ValueError:
        print(
            f"hbctl: bad control address '{printable(target)}': give a socket path, unix:PATH"
            " or ssl:HOST:PORT",
            file=sys.stderr,
        )
        return usage_exit
    tls = None
    if address.is_tls:
        if not (args.cert and args.key and args.ca):
            print(f"hbctl: {address.text} needs --cert, --key and --ca", file=sys.stderr)
            return usage_exit
        tls = control.ClientTLS(args.cert, args.key, args.ca, args.server_name)
    # Stays None if the reactor is stopped first (Ctrl-C): fine for a stream, 130 otherwise.
    status: list[int | None] = [None]
    clients: list[ControlClient] = []

    def shutting_down() -> None:
        for client in clients:
            client.interrupted = status[0] is None

    async def session(reactor: Any) -> None:
        connection: ControlClient | None = None
        reactor.addSystemEventTrigger("before", "shutdown", shutting_down)
        try:
            connection = await control.connect(reactor, address, tls, args.timeout)
            clients.append(connection)
            work = defer.Deferred.fromCoroutine(command(connection, args, out))
            if not streaming:
                work.addTimeout(args.timeout, reactor)
            status[0] = await work
        except control.Unreachable as problem:
            status[0] = report_unreachable(problem, args, out, on_unreachable, timeout_exit)
        except defer.TimeoutError:
            status[0] = report_no_answer(args, timeout_exit)
        except amp.TooLong as problem:
            status[0] = report_too_long(problem.keyName, problem.value)
        except Exception as problem:
            status[0] = report_failure(problem)
        finally:
            if connection is not None:
                connection.close()
        out.flush()

    try:
        task.react(session)
    except SystemExit as exit:
        if exit.code not in (0, None):
            return int(exit.code) if isinstance(exit.code, int) else FAILURE_EXIT_STATUS
    if status[0] is None or (streaming and any(client.interrupted for client in clients)):
        return 0 if streaming else INTERRUPTED_EXIT_STATUS
    return status[0]


# How a command that did not finish ends: one line on stderr (or cl_status's words) and a status


def report_unreachable(
    problem: Problem,
    args: argparse.Namespace,
    out: TextIO,
    on_unreachable: OnUnreachable,
    timeout_exit: int,
) -> int:
    """No daemon to talk to: a timeout in hbctl's words, anything else as the command says."""
    if problem.timeout:
        print(f"hbctl: {problem.reason}", file=sys.stderr)
        return timeout_exit
    return on_unreachable(problem, args, out)


def report_no_answer(args: argparse.Namespace, timeout_exit: int) -> int:
    """The command did not finish within `--timeout`."""
    print(f"hbctl: no answer from the daemon within {args.timeout:g} s", file=sys.stderr)
    return timeout_exit


def report_too_long(name: bytes | None, value: bytes) -> int:
    """A request value longer than the protocol carries."""
    print(f"hbctl: {too_long(name, len(value))}", file=sys.stderr)
    return FAILURE_EXIT_STATUS


def report_failure(problem: Exception) -> int:
    """Anything else: an argument that is not UTF-8, or the exception's name and text."""
    if isinstance(problem, UnicodeEncodeError):
        print("hbctl: an argument is not UTF-8 text", file=sys.stderr)
    else:
        print(f"hbctl: {type(problem).__name__}: {problem}", file=sys.stderr)
    return FAILURE_EXIT_STATUS


def too_long(name: bytes | None, size: int) -> str:
    """What AMP's `TooLong` means for the user: which value, how long, and the limit."""
    shown = name.decode("ascii", "replace") if name else "a key"
    return (
        f"the request is too long: its {shown!r} value takes {size:,} bytes, and"
        f" the control protocol carries at most {AMP_MAX_VALUE:,} bytes in one value"
    )


def _quiet_twisted_log() -> None:
    """Keep Twisted's own log off the terminal: hbctl reports every problem in one line.

    (Twisted logs a traceback when its hostname check meets a certificate without a
    subjectAltName; hbctl's own check refuses that certificate and says so.)
    Set HBCTL_DEBUG=1 to see Twisted's log on stderr.
    """
    from twisted.logger import globalLogBeginner, textFileLogObserver

    observers = [textFileLogObserver(sys.stderr)] if os.environ.get("HBCTL_DEBUG") else []
    globalLogBeginner.beginLoggingTo(observers, redirectStandardIO=False)
