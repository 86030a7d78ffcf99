"""Heartbeat's `cl_status` sub-commands, with its output texts and exit statuses (spec 9.4).

`hbctl hbstatus`, `listnodes`, `nodestatus`, ... print exactly what `cl_status` prints for the
same question (tabs included) and exit as it does: 0 OK, 1 "normal failure" (node or link down,
daemon stopped, parameter unset), 11 parameter error, 12 timeout, 13 unknown error. Its log
lines (`cl_log`) go to stderr as `ERROR: ...`. hbtwist has no API clients, so `clientstatus`
answers `offline` for any node it knows; `rscstatus` is what the resource manager holds.
As cl_status does, `listnodes` lists nodes in reverse ha.cf order and every list of a node's
links is in reverse medium order (spec 9.4).
"""

from __future__ import annotations

import sys

from hbtwist.cli.remote import (
    add_control_options,
    is_utf8,
    printable,
    set_command,
)
from hbtwist.control.errors import UnknownNode

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any, TextIO

    from hbtwist.cli.remote import Client, Problem

OK = 0
NORMAL_FAIL = 1
PARAMETER_ERROR = 11
TIMEOUT = 12
UNKNOWN_ERROR = 13

RUNNING = "Heartbeat is running on this machine."
STOPPED = "Heartbeat is stopped on this machine."
REFUSED = "Heartbeat is apparently running on this machine, but refuses my connection"
CANNOT_SIGNON = "Cannot signon with heartbeat"
SIGNON_REASON = "hb_api_signon: Can't initiate connection to heartbeat"
NOT_ENOUGH = "Not enough parameters."
NO_ENOUGH = "No enough parameter."
BAD_NODE = "Error. May be due to incorrect node name"
BAD_NODE_WEIGHT = "Error. Maybe due to incorrect node name."

ALIVE = ("active", "up", "ping")
CLIENT_STATUS_EXIT = {"online": OK, "offline": NORMAL_FAIL, "join": 2, "leave": 3}
FALSE_WORDS = ("false", "off", "no", "n", "0")

COMMANDS: dict[str, str] = {
    "hbstatus": "is heartbeat running here (cl_status hbstatus)",
    "listnodes": "list the cluster nodes (cl_status listnodes)",
    "nodestatus": "a node's status (cl_status nodestatus)",
    "nodeweight": "a node's weight (cl_status nodeweight)",
    "nodesite": "a node's site (cl_status nodesite)",
    "nodetype": "a node's type (cl_status nodetype)",
    "listhblinks": "a node's heartbeat links (cl_status listhblinks)",
    "hblinkstatus": "a heartbeat link's status (cl_status hblinkstatus)",
    "clientstatus": "an API client's status (cl_status clientstatus)",
    "rscstatus": "which resources this node holds (cl_status rscstatus)",
    "hbparameter": "a heartbeat parameter (cl_status hbparameter)",
}
"""The cl_status-compatible sub-commands; a usage error in any of them exits 11."""


def log_error(message: str) -> None:
    """What cl_status logs with cl_log(LOG_ERR, ...), on stderr."""
    print(f"ERROR: {message}", file=sys.stderr)


def pacemaker_enabled(value: str | None) -> bool:
    """cl_status's reading of the `pacemaker` parameter: anything but a false boolean is on."""
    return value is None or value.lower() not in FALSE_WORDS


# Registration


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser], only: str | None = None
) -> None:
    """Add every cl_status-compatible sub-command, or only the one named `only` (enough to
    parse a command line naming it, and eleven parsers take a query some milliseconds)."""
    handlers = {
        "hbstatus": hbstatus,
        "listnodes": listnodes,
        "nodestatus": nodestatus,
        "nodeweight": nodeweight,
        "nodesite": nodesite,
        "nodetype": nodetype,
        "listhblinks": listhblinks,
        "hblinkstatus": hblinkstatus,
        "clientstatus": clientstatus,
        "rscstatus": rscstatus,
        "hbparameter": hbparameter,
    }
    for name, text in COMMANDS.items():
        if only not in (None, name):
            continue
        parser = subparsers.add_parser(name, help=text, description=f"Like `cl_status {name}`.")
        parser.add_argument(
            "-m", dest="human", action="store_true", help="print human-readable sentences"
        )
        add_control_options(parser, json_option=False)
        parser.set_defaults(command_name=name)
        set_command(
            parser,
            handlers[name],
            on_unreachable=unreachable,
            timeout_exit=TIMEOUT,
            usage_exit=PARAMETER_ERROR,
        )
        _add_arguments(name, parser)


NODE_COMMANDS = (
    "nodestatus",
    "nodeweight",
    "nodesite",
    "nodetype",
    "listhblinks",
    "hblinkstatus",
    "clientstatus",
)
"""The sub-commands that take a NODE."""


def _add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    """The options and arguments of sub-command `name` besides -m and the connection's."""
    if name == "hbstatus":
        parser.add_argument(
            "-v", dest="verbose", action="store_true", help="also show the version and `listnodes -v`"
        )
    if name == "listnodes":
        parser.add_argument("-n", dest="normal", action="store_true", help="list only normal nodes")
        parser.add_argument("-p", dest="ping", action="store_true", help="list only ping nodes")
        parser.add_argument(
            "-v",
            dest="verbose",
            action="store_true",
            help="also show each node's status, type and links",
        )
    if name == "listhblinks":
        parser.add_argument(
            "-v", dest="verbose", action="store_true", help="also show each link's status"
        )
    if name in NODE_COMMANDS:
        parser.add_argument("node", nargs="?", metavar="NODE")
    if name == "hblinkstatus":
        parser.add_argument("link", nargs="?", metavar="LINK")
    if name == "clientstatus":
        parser.add_argument("client", nargs="?", metavar="CLIENT")
        parser.add_argument(
            "client_timeout", nargs="?", metavar="TIMEOUT", help="milliseconds (accepted, unused)"
        )
    if name == "hbparameter":
        parser.add_argument("-p", dest="name", metavar="NAME", help="the parameter's name")


def unreachable(problem: Problem, args: argparse.Namespace, out: TextIO) -> int:
    """cl_status when it cannot sign on: `hbstatus` says stopped or refused, the rest log."""
    if args.command_name == "hbstatus":
        out.write((STOPPED if problem.stopped else REFUSED) + "\n")
        if getattr(args, "verbose", False):
            out.write(f"({problem.reason})\n")
        return NORMAL_FAIL if problem.stopped else OK
    log_error(CANNOT_SIGNON)
    reason = f"{SIGNON_REASON} ({problem.reason})" if problem.stopped else problem.reason
    log_error(f"REASON: {reason}")
    return NORMAL_FAIL


# The sub-commands


async def hbstatus(client: Client, args: argparse.Namespace, out: TextIO) -> int:
    """`cl_status hbstatus [-v] [-m]`."""
    if not args.verbose:
        out.write(RUNNING + "\n")
        return OK
    hbversion = await client.parameter("hbversion")
    pacemaker = await client.parameter("pacemaker")
    managed = pacemaker_enabled(pacemaker)
    if args.human:
        out.write(f"Heartbeat version {hbversion}\n" if hbversion else RUNNING + "\n")
        out.write(
            "Resources controlled by Pacemaker.\n"
            if managed
            else 'Resources controlled by "haresources"\n'
        )
    else:
        out.write(f"version:\t{hbversion or 'unknown'}\n")
        if managed:
            out.write(f"managed by:\tpacemaker\t({pacemaker or '(null)'})\n")
        else:
            out.write('managed by:\t"haresources"\n')
    await _listnodes(client, out, normal=False, ping=False, verbose=True, human=args.human)
    return OK


async def listnodes(client: Client, args: argparse.Namespace, out: TextIO) -> int:
    """`cl_status listnodes [-n|-p] [-v] [-m]`."""
    await _listnodes(
        client, out, normal=args.normal, ping=args.ping, verbose=args.verbose, human=args.human
    )
    return OK


async def _listnodes(
    client: Client, out: TextIO, *, normal: bool, ping: bool, verbose: bool, human: bool
) -> None:
    if normal and ping:
        normal = ping = False
    nodes = await client.nodes()
    links: dict[str, list[dict[str, Any]]] = {}
    if verbose:
        for link in await client.links():
            links.setdefault(link["node"], []).append(link)
    if human:
        out.write("The nodes are as follow:\n")
    for node in reversed(nodes):
        if (normal and node["type"] != "normal") or (ping and node["type"] != "ping"):
            continue
        if not verbose:
            out.write(f"{node['name']}\n")
            continue
        out.write(f"\n{node['name']}\t{node['status']}\t(nodetype: {node['type']})\n")
        _write_links(out, links.get(node["name"], []), verbose=True, human=human)


def _write_links(out: TextIO, links: list[dict[str, Any]], *, verbose: bool, human: bool) -> None:
    """A node's `links` (in medium order) as cl_status lists them: last medium first."""
    if human:
        out.write("\tthis node has the following heartbeat links:\n")
    for link in reversed(links):
        out.write(f"\t{link['link']}\t{link['status']}\n" if verbose else f"\t{link['link']}\n")


async def _node(
    client: Client, args: argparse.Namespace, missing: str, unknown: str
) -> dict[str, Any] | int:
    """The node named in `args`, or the exit status after cl_status's complaint."""
    if not args.node:
        print(missing, file=sys.stderr)
        return PARAMETER_ERROR
    try:
        return await client.node(_node_name(args.node))
    except UnknownNode:
        print(unknown, file=sys.stderr)
        return PARAMETER_ERROR


def _node_name(name: str) -> str:
    """`name` as asked for; UnknownNode if it is not UTF-8 text, which no node name is."""
    if not is_utf8(name):
        raise UnknownNode(f"no such node: {printable(name)}")
    return name


async def nodestatus(client: Client, args: argparse.Namespace, out: TextIO) -> int:
    """`cl_status nodestatus NODE`: 0 when active, up or ping, else 1."""
    node = await _node(client, args, NOT_ENOUGH, BAD_NODE)
    if isinstance(node, int):
        return node
    status = node["status"]
    out.write(f"The cluster node {args.node} is {status}\n" if args.human else f"{status}\n")
    return OK if status in ALIVE else NORMAL_FAIL


async def nodeweight(client: Client, args: argparse.Namespace, out: TextIO) -> int:
    """`cl_status nodeweight NODE`."""
    node = await _node(client, args, NOT_ENOUGH, BAD_NODE_WEIGHT)
    if isinstance(node, int):
        return node
    weight = node["weight"]
    out.write(
        f"The weight of the cluster node {args.node} is {weight}\n" if args.human else f"{weight}\n"
    )
    return OK


async def nodesite(client: Client, args: argparse.Namespace, out: TextIO) -> int:
    """`cl_status nodesite NODE`."""
    node = await _node(client, args, NOT_ENOUGH, BAD_NODE)
    if isinstance(node, int):
        return node
    site = node["site"]
    out.write(f"The site of the cluster node {args.node} is {site}\n" if args.human else f"{site}\n")
    return OK


async def nodetype(client: Client, args: argparse.Namespace, out: TextIO) -> int:
    """`cl_status nodetype NODE`."""
    node = await _node(client, args, NO_ENOUGH, BAD_NODE)
    if isinstance(node, int):
        return node
    kind = node["type"]
    out.write(f"The node {args.node}'s type: {kind}\n" if args.human else f"{kind}\n")
    return OK


async def listhblinks(client: Client, args: argparse.Namespace, out: TextIO) -> int:
    """`cl_status listhblinks [-v] NODE`."""
    if not args.node:
        print(NO_ENOUGH, file=sys.stderr)
        return PARAMETER_ERROR
    try:
        links = await client.links(_node_name(args.node))
    except UnknownNode as problem:
        log_error("Cannot start heartbeat link interface walk.")
        log_error(f"REASON: {problem}")
        return UNKNOWN_ERROR
    _write_links(out, links, verbose=args.verbose, human=args.human)
    return OK


async def hblinkstatus(client: Client, args: argparse.Namespace, out: TextIO) -> int:
    """`cl_status hblinkstatus NODE LINK`: 0 when up, 1 when dead, 13 when unknown."""
    if not args.node or not args.link:
        print(NO_ENOUGH, file=sys.stderr)
        return PARAMETER_ERROR
    try:
        links = await client.links(_node_name(args.node))
    except UnknownNode as problem:
        reason = str(problem)
        links = []
    else:
        reason = f"node {args.node} has no link {args.link}"
    found = [link for link in links if link["link"] == args.link]
    if not found:
        log_error("Cannot get heartbeat link status")
        log_error(f"REASON: {reason}")
        return UNKNOWN_ERROR
    status = found[0]["status"]
    if args.human:
        out.write(f"The node {args.node}'s heartbeat link {args.link} is {status}\n")
    else:
        out.write(f"{status}\n")
    return OK if status == "up" else NORMAL_FAIL


async def clientstatus(client: Client, args: argparse.Namespace, out: TextIO) -> int:
    """`cl_status clientstatus NODE CLIENT [TIMEOUT]`: hbtwist has no API clients: `offline`."""
    if not args.node or not args.client:
        print(NO_ENOUGH, file=sys.stderr)
        return PARAMETER_ERROR
    try:
        await client.node(_node_name(args.node))
    except UnknownNode as problem:
        log_error(f"Cannot get heartbeat client {printable(args.client)}'s status")
        log_error(f"REASON: {problem}")
        return UNKNOWN_ERROR
    status = "offline"
    out.write(f"{status}\n")
    return CLIENT_STATUS_EXIT[status]


async def rscstatus(client: Client, args: argparse.Namespace, out: TextIO) -> int:
    """`cl_status rscstatus`: which resources this node holds (`none`, `local`, `foreign`,
    `all`, or `transition` while they move)."""
    if pacemaker_enabled(await client.parameter("pacemaker")):
        log_error("Cannot get cluster resource status of a pacemaker cluster; try crm_mon")
        return NORMAL_FAIL
    hold = await client.resources()
    out.write(f"This node is holding {hold} resources.\n" if args.human else f"{hold}\n")
    return OK


async def hbparameter(client: Client, args: argparse.Namespace, out: TextIO) -> int:
    """`cl_status hbparameter -p NAME`: 0 with the value, 1 when the parameter is unset."""
    if not args.name:
        log_error("parameter name required")
        return PARAMETER_ERROR
    value = await client.parameter(args.name) if is_utf8(args.name) else None
    if value is None:
        log_error(f"Cannot get parameter {printable(args.name)}'s value")
        log_error(f"REASON: parameter {printable(args.name)} is not set")
        return NORMAL_FAIL
    if args.human:
        out.write(f"Heartbeat parameter {args.name}'s value: {value}\n")
    else:
        out.write(f"{value}\n")
    return OK
