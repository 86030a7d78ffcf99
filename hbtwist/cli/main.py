"""The `hbctl` entry point: an argparse front end dispatching to one module per sub-command.

This module imports nothing at load time but `sys`: argparse and the sub-command modules are
imported when `main` runs, so that Ctrl-C at any point after that ends hbctl quietly (exit
status 130) rather than with a traceback. A command line naming a known sub-command builds the
parser of that sub-command's module only (of the cl_status-compatible ones, of that sub-command
only), so that a quick query imports and builds nothing else; `--help` at the top and unknown
sub-commands get the whole parser.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

USAGE_EXIT_STATUS = 2
INTERRUPTED_EXIT_STATUS = 130

MODULES: dict[str, tuple[str, ...]] = {
    "check": ("check",),
    "status": ("status", "nodes", "links", "version"),
    "events": ("events",),
    "send": ("send", "listen"),
    "resources": ("standby", "takeover", "resources"),
    "clstatus": (
        "hbstatus",
        "listnodes",
        "nodestatus",
        "nodeweight",
        "nodesite",
        "nodetype",
        "listhblinks",
        "hblinkstatus",
        "clientstatus",
        "rscstatus",
        "hbparameter",
    ),
}
"""The modules of `hbtwist.cli` with a `register(subparsers)`, in `--help` order, and the
sub-commands each registers."""


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The `hbctl` argument parser with every sub-command registered, or, given a known
    sub-command, with those of its module only (the same parser for that command line)."""
    import argparse
    import importlib

    from hbtwist import __version__
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
    chosen = [name for name, commands in MODULES.items() if command in commands]
    for name in chosen or MODULES:
        module = importlib.import_module(f"hbtwist.cli.{name}")
        if chosen and name == "clstatus":
            module.register(subparsers, only=command)  # one parser of eleven
        else:
            module.register(subparsers)
    return parser


def command_word(arguments: Sequence[str]) -> str | None:
    """The sub-command `arguments` name when nothing but `--control` comes before it (any other
    option there, such as `--help`, concerns the whole parser), else None."""
    words = iter(arguments)
    for word in words:
        if word == "--":
            return next(words, None)
        if not word.startswith("-"):
            return word
        if not (word.startswith("--c") and "--control".startswith(word.split("=", 1)[0])):
            return None
        if "=" not in word:
            next(words, None)
    return None


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
    try:
        args = build_parser(command_word(arguments)).parse_args(arguments)
    except SystemExit as exit:
        words = [word for word in arguments if not word.startswith("-")]
        if exit.code == USAGE_EXIT_STATUS and words and words[0] in MODULES["clstatus"]:
            from hbtwist.cli.clstatus import PARAMETER_ERROR

            raise SystemExit(PARAMETER_ERROR) from None
        raise
    result: int = args.run(args)
    return result
