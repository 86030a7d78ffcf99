"""`hbctl status`, `nodes`, `links` and `version`: what a running daemon knows, as tables or JSON."""

from __future__ import annotations

from hbtwist import __version__
from hbtwist.cli.remote import (
    FAILURE_EXIT_STATUS,
    add_control_options,
    is_utf8,
    printable,
    set_command,
)
from hbtwist.control.errors import UnknownNode

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence
    from typing import Any, TextIO

    from hbtwist.cli.remote import Client


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `status`, `nodes`, `links` and `version`."""
    parser = subparsers.add_parser(
        "status",
        help="this node: status, generation, comm-up, uptime",
        description="Show the local node as the running daemon sees it.",
    )
    add_control_options(parser)
    set_command(parser, status)

    parser = subparsers.add_parser(
        "nodes",
        help="cluster membership: status and heartbeats of every node",
        description="Show every node (or the named ones) with status, generation, time since "
        "its last heartbeat, heartbeat counts and the deadtime it advertises.",
    )
    parser.add_argument("names", nargs="*", metavar="NODE", help="only these nodes")
    add_control_options(parser)
    set_command(parser, nodes)

    parser = subparsers.add_parser(
        "links",
        help="heartbeat links of one node or of all nodes",
        description="Show the links (one per medium) of NODE, or of every node.",
    )
    parser.add_argument("node", nargs="?", metavar="NODE", help="only this node's links")
    add_control_options(parser)
    set_command(parser, links)

    parser = subparsers.add_parser(
        "version",
        help="versions of hbctl, the daemon and the control protocol",
        description="Ask the daemon for its version and control protocol version.",
    )
    add_control_options(parser)
    set_command(parser, version)


# Commands


async def status(client: Client, args: argparse.Namespace, out: TextIO) -> int:
    """Print the local node's status."""
    local = await client.local_status()
    if args.json:
        return _json(local, out)
    pairs = [
        ("node", local["node"]),
        ("status", local["status"]),
        ("generation", str(local["generation"])),
        ("uuid", local["uuid"]),
        ("comm up", "yes" if local["comm_up"] else "no"),
        ("uptime", duration(local["uptime"])),
        ("keepalive", f"{local['keepalive_ms']} ms"),
        ("deadtime", f"{local['deadtime_ms']} ms"),
        ("cluster", local["cluster"]),
    ]
    for key, value in pairs:
        print(f"{key + ':':<12}{value}", file=out)
    return 0


async def nodes(client: Client, args: argparse.Namespace, out: TextIO) -> int:
    """Print the membership table (or the named nodes)."""
    strange = [name for name in args.names if not is_utf8(name)]
    if strange:
        return _fail(f"no such node: {printable(strange[0])}")
    try:
        rows = [await client.node(name) for name in args.names] if args.names else None
    except UnknownNode as problem:
        return _fail(str(problem))
    if rows is None:
        rows = await client.nodes()
    if args.json:
        return _json(rows, out)
    header = ["NODE", "TYPE", "STATUS", "GENERATION", "LAST HEARTBEAT", "HEARTBEATS", "LATE", "DEADTIME"]
    table = [
        [
            row["name"],
            row["type"],
            row["status"],
            str(row["generation"]),
            ago(row["since_heartbeat"]),
            str(row["heartbeats"]),
            str(row["late_heartbeats"]),
            f"{row['deadtime_ms']} ms",
        ]
        for row in rows
    ]
    out.write(columns(header, table))
    return 0


async def links(client: Client, args: argparse.Namespace, out: TextIO) -> int:
    """Print the link table of one node or of all nodes."""
    if args.node is not None and not is_utf8(args.node):
        return _fail(f"no such node: {printable(args.node)}")
    try:
        rows = await client.links(args.node)
    except UnknownNode as problem:
        return _fail(str(problem))
    if args.json:
        return _json(rows, out)
    header = ["NODE", "LINK", "STATUS", "LAST HEARD", "HEARD", "TRANSITIONS"]
    table = [
        [
            row["node"],
            row["link"],
            row["status"],
            ago(row["since_heard"]),
            str(row["heard"]),
            str(row["transitions"]),
        ]
        for row in rows
    ]
    out.write(columns(header, table))
    return 0


async def version(client: Client, args: argparse.Namespace, out: TextIO) -> int:
    """Print the versions of hbctl, of the daemon and of the control protocol."""
    answer = await client.version()
    answer = {"hbctl": __version__, **answer}
    if args.json:
        return _json(answer, out)
    print(f"hbctl {__version__}", file=out)
    print(f"daemon {answer['daemon']} (Heartbeat {answer['heartbeat']} compatible)", file=out)
    print(f"control protocol {answer['protocol']}", file=out)
    return 0


# Formatting


def columns(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A left-aligned text table, two spaces between columns, no trailing blanks."""
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=False)]
    lines = []
    for row in (header, *rows):
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def duration(seconds: float) -> str:
    """`3d04h05m06s`-style duration, whole seconds."""
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours:02d}h{minutes:02d}m{secs:02d}s"
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def ago(seconds: float | None) -> str:
    """`0.35s ago`, `2m05s ago`, or `-` when never (and for this node itself)."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.2f}s ago"
    return f"{duration(seconds)} ago"


def _json(value: Any, out: TextIO) -> int:
    import json

    json.dump(value, out, indent=2)
    out.write("\n")
    return 0


def _fail(message: str) -> int:
    import sys

    print(f"hbctl: {message}", file=sys.stderr)
    return FAILURE_EXIT_STATUS
