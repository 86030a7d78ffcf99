"""`hbctl check DIR`: validate a configuration directory the way the daemon would at start-up."""

from __future__ import annotations

import argparse
import sys

INVALID_EXIT_STATUS = 2


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `check` sub-command to `subparsers`."""
    parser = subparsers.add_parser(
        "check",
        help="validate ha.cf, authkeys, haresources and hbtwist.cf",
        description=(
            "Load the configuration in DIR and print a summary of it, warnings included (exit 0), "
            "or print every "
            "problem as FILE:LINE: problem on stderr (exit 2)."
        ),
    )
    parser.add_argument("directory", metavar="DIR", help="configuration directory, e.g. /etc/ha.d")
    parser.add_argument(
        "--node", metavar="NAME", help="check as this node [default: nodeinfo, else uname -n]"
    )
    parser.add_argument(
        "--no-host-check",
        dest="check_host",
        action="store_false",
        help="do not check interfaces, peers and devices against this machine",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Check the directory named in `args`; 0 if the configuration is valid, else 2.

    The host check is the daemon's own (`hbtwist.media.hostcheck`): each medium's plugin.
    The configuration machinery is imported here, not when the parser is built, so that
    the commands that talk to a daemon never load it.
    """
    from hbtwist.config import ConfigError, load_config, summarize
    from hbtwist.media.hostcheck import check_host
    from hbtwist.media.registry import medium_types

    try:
        kinds = medium_types()
        media = {directive: kind.parser for directive, kind in kinds.items()}
        config = load_config(args.directory, local_node=args.node, media=media)
        if args.check_host:
            check_host(config.hacf.media, kinds)
    except ConfigError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        return INVALID_EXIT_STATUS
    for warning in config.warnings:
        print(f"hbctl: warning: {warning}", file=sys.stderr)
    print(summarize(config))
    return 0
