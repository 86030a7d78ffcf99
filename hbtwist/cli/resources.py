"""`hbctl standby`, `takeover` and `resources`: steer and show the node's resource groups.

`standby` and `takeover` are Heartbeat's `hb_standby` and `hb_takeover`: they ask the node to
give away, or to take over, the resources of a set (`all`, `local`, `foreign`, `failback`) and
return once the request is sent; the log and `hbctl events` tell how it ends. `resources` shows
the resource manager: what this node holds, each group and each resource with its last
operation. cl_status's `rscstatus` is in `hbtwist.cli.clstatus`.
"""

from __future__ import annotations

import sys

from hbtwist.cli.remote import FAILURE_EXIT_STATUS, add_control_options, printable, set_command
from hbtwist.cli.status import columns

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any, TextIO

    from hbtwist.cli.remote import Client

RESOURCE_SETS = ("all", "local", "foreign", "failback")
"""The sets `hb_standby` and `hb_takeover` take (the protocol's `RESOURCE_SETS`)."""

STANDBY_LOGGED = {"failback": "foreign"}
"""How `hb_standby` names a set in `Going standby [SET].` where that differs from its argument."""

GROUP_HEADER = ["GROUP", "PREFERRED", "HOLDER", "STATE"]
RESOURCE_HEADER = ["GROUP", "RESOURCE", "STATE", "PATH", "LAST", "TOOK", "RESULT", "DETAIL"]
OPERATION_HEADER = ["OPERATION", "RESULT", "COUNT"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `standby`, `takeover` and `resources`."""
    parser = subparsers.add_parser(
        "standby",
        help="give this node's resources to the other node (hb_standby)",
        description="Ask this node to give its resources of SET away, as hb_standby does "
        "(failback is foreign). hbctl returns once the request is sent; the log and "
        "`hbctl events` show the groups move.",
    )
    _add_set_argument(parser)
    add_control_options(parser, json_option=False)
    set_command(parser, standby)

    parser = subparsers.add_parser(
        "takeover",
        help="take the other node's resources over (hb_takeover)",
        description="Ask the other node to give up its resources of SET to this node, as "
        "hb_takeover does. hbctl returns once the request is sent.",
    )
    _add_set_argument(parser)
    add_control_options(parser, json_option=False)
    set_command(parser, takeover)

    parser = subparsers.add_parser(
        "resources",
        help="resource groups: holder, state and last operation of every resource",
        description="Show what this node holds, every resource group (preferred node, holder, "
        "this node's state) and every resource (state, how it is run, its last operation, how "
        "long that took and its result).",
    )
    add_control_options(parser)
    set_command(parser, resources)


def _add_set_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "which",
        nargs="?",
        default="all",
        choices=RESOURCE_SETS,
        metavar="SET",
        help="all, local, foreign or failback [default: all]",
    )


# Commands


async def standby(client: Client, args: argparse.Namespace, out: TextIO) -> int:
    """Ask for a standby; print `Going standby [SET].`, or the refusal (exit 1)."""
    refusal = await client.standby(args.which)
    if refusal is not None:
        return _refused("standby", args.which, refusal)
    out.write(f"Going standby [{STANDBY_LOGGED.get(args.which, args.which)}].\n")
    return 0


async def takeover(client: Client, args: argparse.Namespace, out: TextIO) -> int:
    """Ask for a takeover; print `Taking over [SET].`, or the refusal (exit 1)."""
    refusal = await client.takeover(args.which)
    if refusal is not None:
        return _refused("takeover", args.which, refusal)
    out.write(f"Taking over [{args.which}].\n")
    return 0


async def resources(client: Client, args: argparse.Namespace, out: TextIO) -> int:
    """Print the resource manager's state: a summary, then groups, resources and operations."""
    status = await client.resource_status()
    if args.json:
        import json

        json.dump(status, out, indent=2)
        out.write("\n")
        return 0
    out.write(render(status))
    return 0


# Formatting


def render(status: dict[str, Any]) -> str:
    """The `ResourceStatus` object as text: `key: value` lines, then one table per kind."""
    standby = status.get("standby")
    pairs = [
        ("holding", status["rsc_hold"]),
        ("stable", "yes" if status["stable"] else "no (operations in progress)"),
        ("auto_failback", status["auto_failback"]),
        ("standby", "none in progress" if standby is None else standby),
        ("takeovers", str(status["takeovers"])),
        ("releases", str(status["releases"])),
    ]
    parts = ["".join(f"{key + ':':<15}{cell(value)}\n" for key, value in pairs)]
    groups = status["groups"]
    if not groups:
        parts.append("no resource groups (haresources is empty)\n")
    else:
        parts.append(columns(GROUP_HEADER, [group_row(group) for group in groups]))
        rows = [resource_row(group, each) for group in groups for each in group["resources"]]
        parts.append(columns(RESOURCE_HEADER, rows))
    operations = status["operations"]
    if operations:
        parts.append(columns(OPERATION_HEADER, [operation_row(each) for each in operations]))
    return "\n".join(parts)


def group_row(group: dict[str, Any]) -> list[str]:
    """One group: key, preferred node, holder (`-`: nobody), this node's state."""
    return [cell(group["key"]), cell(group["preferred_node"]), cell(group["holder"]), group["state"]]


def resource_row(group: dict[str, Any], resource: dict[str, Any]) -> list[str]:
    """One resource: its group, text, state, path, last operation, its duration and result."""
    took = resource["last_duration_ms"]
    return [
        cell(group["key"]),
        cell(resource["text"]),
        cell(resource["state"]),
        cell(resource["path"]),
        cell(resource["last_operation"]),
        "-" if took is None else milliseconds(took),
        cell(resource["last_result"]),
        cell(resource["last_detail"]),
    ]


def operation_row(operation: dict[str, Any]) -> list[str]:
    """One count of operations: what ran, its result, how many times."""
    return [cell(operation["operation"]), cell(operation["result"]), str(operation["count"])]


def cell(value: str | None) -> str:
    """A table cell: `-` for none, whitespace runs as one space, undecodable bytes as `\\xNN`."""
    if value is None:
        return "-"
    return " ".join(printable(value).split()) or "-"


def milliseconds(value: int) -> str:
    """A duration: `850 ms` below ten seconds, else seconds with one decimal (`12.3 s`)."""
    if value < 10_000:
        return f"{value} ms"
    return f"{value / 1000:.1f} s"


def _refused(request: str, which: str, reason: str) -> int:
    print(f"hbctl: {request} [{which}] refused: {printable(reason)}", file=sys.stderr)
    return FAILURE_EXIT_STATUS
