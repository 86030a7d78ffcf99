"""The `hbctl` entry point: an argparse front end dispatching to one module per sub-command.

This module imports nothing at load time but `sys`: argparse and the sub-command modules are
imported when `main` runs, so that Ctrl-C at any point after that ends hbctl quietly (exit
status 130) rather than with a traceback.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

USAGE_EXIT_STATUS = 2
INTERRUPTED_EXIT_STATUS = 130


def build_parser() -> argparse.ArgumentParser:
    """The `hbctl` argument parser with every sub-command registered."""
    import argparse

    from hbtwist import __version__
    from hbtwist.cli import check, clstatus, events, resources, send, status
    from hbtwist.cli.parsing import CommandParser

    parser = argparse.ArgumentParser(
        prog="hbctl", description="Check and inspect an hbtwist heartbeat cluster."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--control",
        dest="global_control",
        metavar="ADDRESS",
        help="the daemon's control address for every command (also accepted after the command; "
        "default: $HBCTL_CONTROL, else the daemon's default socket)",
    )
    subparsers = parser.add_subparsers(
        title="commands", metavar="COMMAND", required=True, parser_class=CommandParser
    )
    for command in (check, status, events, send, resources, clstatus):
        command.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run `hbctl` with `argv` (default: the process arguments); the exit status is returned.

    A usage error exits 2, except in the cl_status-compatible sub-commands, which exit 11
    (cl_status's parameter error) as cl_status does. Ctrl-C exits 130, without a traceback.
    """
    try:
        return _run(list(sys.argv[1:] if argv is None else argv))
    except KeyboardInterrupt:
        return INTERRUPTED_EXIT_STATUS


def _run(arguments: list[str]) -> int:
    from hbtwist.cli import clstatus

    try:
        args = build_parser().parse_args(arguments)
    except SystemExit as exit:
        words = [word for word in arguments if not word.startswith("-")]
        if exit.code == USAGE_EXIT_STATUS and words and words[0] in clstatus.COMMANDS:
            raise SystemExit(clstatus.PARAMETER_ERROR) from None
        raise
    result: int = args.run(args)
    return result
