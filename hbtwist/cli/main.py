"""The `hbctl` entry point: an argparse front end dispatching to one module per sub-command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from hbtwist import __version__
from hbtwist.cli import check, clstatus, events, send, status

COMMANDS = (check, status, events, send, clstatus)

USAGE_EXIT_STATUS = 2


def build_parser() -> argparse.ArgumentParser:
    """The `hbctl` argument parser with every sub-command of `COMMANDS` registered."""
    parser = argparse.ArgumentParser(
        prog="hbctl", description="Check and inspect an hbtwist heartbeat cluster."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--control",
        dest="global_control",
        metavar="ADDRESS",
        help="the daemon's control address for every command (also accepted after the command)",
    )
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run `hbctl` with `argv` (default: the process arguments); the exit status is returned.

    A usage error exits 2, except in the cl_status-compatible sub-commands, which exit 11
    (cl_status's parameter error) as cl_status does.
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(arguments)
    except SystemExit as exit:
        words = [word for word in arguments if not word.startswith("-")]
        if exit.code == USAGE_EXIT_STATUS and words and words[0] in clstatus.COMMANDS:
            raise SystemExit(clstatus.PARAMETER_ERROR) from None
        raise
    result: int = args.run(args)
    return result
