"""The `hbctl` entry point: an argparse front end dispatching to one module per sub-command."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from hbtwist import __version__
from hbtwist.ctl import check

COMMANDS = (check,)


def build_parser() -> argparse.ArgumentParser:
    """The `hbctl` argument parser with every sub-command of `COMMANDS` registered."""
    parser = argparse.ArgumentParser(
        prog="hbctl", description="Check and inspect an hbtwist heartbeat cluster."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run `hbctl` with `argv` (default: the process arguments); the exit status is returned."""
    args = build_parser().parse_args(argv)
    status: int = args.run(args)
    return status
