"""What every `hbctl` command that talks to a running daemon shares: options and the run loop.

Commands are coroutines `command(client, args, out) -> exit status`, so tests can run them
against an in-memory connection; `run_remote` connects through the real reactor (`task.react`)
and turns every way of not reaching the daemon into one line on stderr and an exit status.
Twisted is imported only when a command runs, which keeps `hbctl --help` and `check` fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TextIO

from hbtwist.control import DEFAULT_SOCKET

if TYPE_CHECKING:
    from hbtwist.control.client import ControlClient, Unreachable

DEFAULT_CONTROL = f"unix:{DEFAULT_SOCKET}"
FAILURE_EXIT_STATUS = 1
USAGE_EXIT_STATUS = 2

Command = Callable[["ControlClient", argparse.Namespace, TextIO], Coroutine[Any, Any, int]]
OnUnreachable = Callable[["Unreachable", argparse.Namespace, TextIO], int]


def add_control_options(parser: argparse.ArgumentParser, *, json_option: bool = True) -> None:
    """Add --control, --cert, --key, --ca, --server-name, --timeout (and --json)."""
    group = parser.add_argument_group("connection")
    group.add_argument(
        "--control",
        metavar="ADDRESS",
        help=f"the daemon's control address: unix:PATH or ssl:HOST:PORT [default: {DEFAULT_CONTROL}]",
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
        type=float,
        default=5.0,
        help="give up when the daemon does not answer within this time [default: 5]",
    )
    if json_option:
        parser.add_argument("--json", action="store_true", help="print JSON for programs")


def control_target(args: argparse.Namespace) -> str:
    """The control address: given after the command, else before it, else the default."""
    return args.control or getattr(args, "global_control", None) or DEFAULT_CONTROL


def set_command(parser: argparse.ArgumentParser, handler: Command, **options: Any) -> None:
    """Make `handler` the parser's command: `args.handler` is the coroutine, `args.run` runs it
    against the daemon through `run_remote` with `options`."""
    parser.set_defaults(handler=handler, run=lambda args: run_remote(args, handler, **options))


def default_unreachable(problem: Unreachable, args: argparse.Namespace, out: TextIO) -> int:
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

    Without `streaming`, the whole command must finish within `--timeout` seconds; with it,
    being interrupted (Ctrl-C) is a normal end (exit status 0).
    """
    from twisted.internet import task
    from twisted.internet.defer import Deferred

    from hbtwist.control import client as control

    _quiet_twisted_log()
    out = sys.stdout
    try:
        address = control.parse_address(control_target(args))
    except ValueError as problem:
        print(f"hbctl: {problem}", file=sys.stderr)
        return usage_exit
    tls = None
    if address.is_tls:
        if not (args.cert and args.key and args.ca):
            print(f"hbctl: {address.text} needs --cert, --key and --ca", file=sys.stderr)
            return usage_exit
        tls = control.ClientTLS(args.cert, args.key, args.ca, args.server_name)
    # Stays None if the reactor is stopped first (Ctrl-C): fine for a stream, a failure otherwise.
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
            work = Deferred.fromCoroutine(command(connection, args, out))
            if not streaming:
                work.addTimeout(args.timeout, reactor)
            status[0] = await work
        except control.Unreachable as problem:
            if problem.timeout:
                print(f"hbctl: {problem.reason}", file=sys.stderr)
                status[0] = timeout_exit
            else:
                status[0] = on_unreachable(problem, args, out)
        except _timeout_error():
            print(f"hbctl: no answer from the daemon within {args.timeout:g} s", file=sys.stderr)
            status[0] = timeout_exit
        except Exception as problem:
            print(f"hbctl: {type(problem).__name__}: {problem}", file=sys.stderr)
            status[0] = FAILURE_EXIT_STATUS
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
        return 0 if streaming else FAILURE_EXIT_STATUS
    return status[0]


def _quiet_twisted_log() -> None:
    """Keep Twisted's own log off the terminal: hbctl reports every problem in one line.

    (Twisted logs a traceback when its hostname check meets a certificate without a
    subjectAltName; hbctl's own check refuses that certificate and says so.)
    Set HBCTL_DEBUG=1 to see Twisted's log on stderr.
    """
    import os

    from twisted.logger import globalLogBeginner, textFileLogObserver

    observers = [textFileLogObserver(sys.stderr)] if os.environ.get("HBCTL_DEBUG") else []
    globalLogBeginner.beginLoggingTo(observers, redirectStandardIO=False)


def _timeout_error() -> type[Exception]:
    from twisted.internet.defer import TimeoutError

    return TimeoutError
