"""`hbctl events`: follow the daemon's node, link and resource events, one line per event."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any, TextIO

from hbtwist.cli.remote import FAILURE_EXIT_STATUS, add_control_options, count, set_command

if TYPE_CHECKING:
    from hbtwist.control.client import ControlClient


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `events` sub-command."""
    parser = subparsers.add_parser(
        "events",
        help="follow node and link events as they happen",
        description="Subscribe to the daemon's event stream and print one line per event "
        "(with --json, one JSON object per line) until interrupted, the daemon stops, or "
        "--count events were printed.",
    )
    parser.add_argument("--count", metavar="N", type=count, help="stop after N events (exit status 0)")
    add_control_options(parser)
    set_command(parser, follow, streaming=True)


def render(event: dict[str, Any], as_json: bool) -> str:
    """One output line for an event as the protocol delivers it (`fields` is a JSON string)."""
    fields = json.loads(event["fields"])
    if as_json:
        record = {"seq": event["seq"], "time": event["time"], "kind": event["kind"], **fields}
        return json.dumps(record, separators=(", ", ": "))
    moment = datetime.fromtimestamp(event["time"]).isoformat(sep=" ", timespec="milliseconds")
    details = " ".join(f"{key}={shown(value)}" for key, value in fields.items())
    return f"{moment} {event['kind']} {details}".rstrip()


def shown(value: Any) -> str:
    """A field value as `NAME=VALUE` shows it: `-` for none, `true`/`false`, numbers as they
    are, text bare if plain, else JSON-quoted (empty, or holding spaces, quotes, `=`, `\\` or
    control characters; an undecodable byte shows as `\\udcNN`)."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if not isinstance(value, str):
        return str(value)
    if value and not any(c.isspace() or c in "\"'=\\" or not c.isprintable() for c in value):
        return value
    quoted = json.dumps(value, ensure_ascii=False)
    return quoted.encode("utf-8", "backslashreplace").decode("utf-8")


async def follow(client: ControlClient, args: argparse.Namespace, out: TextIO) -> int:
    """Print events until `--count` is reached (0) or the connection closes (1)."""
    wanted = args.count
    printed = 0

    def on_event(event: dict[str, Any]) -> None:
        nonlocal printed
        if wanted is not None and printed >= wanted:
            return
        out.write(render(event, args.json) + "\n")
        out.flush()
        printed += 1
        if wanted is not None and printed >= wanted:
            client.close()

    if wanted is not None and wanted <= 0:
        return 0
    await client.subscribe(on_event)
    if client.interrupted or (wanted is not None and printed >= wanted):
        return 0
    print(f"hbctl: {client.address}: the daemon closed the event stream", file=sys.stderr)
    return FAILURE_EXIT_STATUS
