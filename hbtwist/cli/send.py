"""`hbctl send` and `hbctl listen`: cluster messages from scripts, and a tap on delivered ones.

`hbctl send TYPE NAME=VALUE...` queues one message; `hbctl send --stdin` reads JSON objects, one
per line, and queues them in order in batches (`SendMessages`), waiting while the daemon's send
queue is full. `hbctl listen` prints every delivered message (and every gap) as it comes.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TextIO

from hbtwist.cli.remote import (
    AMP_MAX_VALUE,
    FAILURE_EXIT_STATUS,
    INTERRUPTED_EXIT_STATUS,
    USAGE_EXIT_STATUS,
    add_control_options,
    count,
    is_utf8,
    printable,
    run_remote,
)
from hbtwist.cli.stdin import MemoryLines, ThreadedLines, open_lines

if TYPE_CHECKING:
    from twisted.internet.interfaces import IReactorTime

    from hbtwist.control.client import ControlClient

POLL_SECONDS = 0.05
"""How often a sender waiting for room in the daemon's send queue asks how full it is."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `send` and `listen` sub-commands."""
    parser = subparsers.add_parser(
        "send",
        help="send a cluster message (or many, from standard input)",
        description="Queue one cluster message of type TYPE with the given fields on the daemon, "
        "for every node or for --dest NODE; or, with --stdin, one message per input line "
        "(a JSON object of strings with 't' and optionally 'dest'), in order. The daemon sends "
        "them in order; flow control may hold them in its queue, never drop them.",
    )
    parser.add_argument("type", nargs="?", metavar="TYPE", help="the message type (field t)")
    parser.add_argument("pairs", nargs="*", metavar="NAME=VALUE", help="the message's fields")
    parser.add_argument("--dest", metavar="NODE", help="send to this node only [default: every node]")
    parser.add_argument(
        "--stdin",
        action="store_true",
        help="read JSON objects, one per line, from standard input and send them all",
    )
    add_control_options(parser)
    parser.set_defaults(handler=send, run=run_send, clock=None, input=None, progress=None)

    parser = subparsers.add_parser(
        "listen",
        help="print cluster messages as they are delivered",
        description="Print one line per cluster message this node delivers (of the given types, "
        "or all), and one line per gap (messages that will never be delivered), until "
        "interrupted, the daemon stops, or --count messages were printed.",
    )
    parser.add_argument("types", nargs="*", metavar="TYPE", help="only messages of these types")
    parser.add_argument("--count", metavar="N", type=count, help="stop after N messages (exit status 0)")
    add_control_options(parser)
    parser.set_defaults(
        handler=listen,
        run=lambda args: run_remote(args, listen, streaming=True),
    )


class Problem(Exception):
    """Something to report in one line on stderr (exit status 1)."""


@dataclass
class Progress:
    """How far `send` got: messages the daemon accepted, and whether it finished."""

    sent: int = 0
    finished: bool = False


def run_send(args: argparse.Namespace) -> int:
    """Run `send` against the daemon; an interruption before the end is reported (exit 130)."""
    progress = args.progress = Progress()
    status = run_remote(args, send, streaming=True)
    if status == 0 and not progress.finished:
        print(f"hbctl: interrupted after queueing {_messages(progress.sent)}", file=sys.stderr)
        return INTERRUPTED_EXIT_STATUS
    return status


def _messages(count: int) -> str:
    return f"{count} message{'' if count == 1 else 's'}"


def _clock(args: argparse.Namespace) -> IReactorTime:
    if args.clock is not None:
        clock: IReactorTime = args.clock
        return clock
    from twisted.internet import reactor

    return reactor


# hbctl send


class Sender:
    """Sends batches in order, waiting (bounded) while the daemon's send queue is full."""

    def __init__(self, client: ControlClient, clock: IReactorTime, timeout: float) -> None:
        self.client = client
        self.clock = clock
        self.timeout = timeout
        self.sent = 0
        self.queued = 0

    async def _timed(self, work: Any) -> Any:
        from twisted.internet.defer import Deferred

        call = Deferred.fromCoroutine(work)
        call.addTimeout(self.timeout, self.clock)
        return await call

    async def send(self, batch: list[dict[str, str]]) -> None:
        """Queue `batch` on the daemon; wait for room when its queue is full."""
        from hbtwist.control import protocol as p

        while True:
            try:
                if len(batch) == 1 and "dest" not in batch[0]:
                    answer = await self._timed(self.client.send_message(batch[0]))
                elif len(batch) == 1:
                    fields = dict(batch[0])
                    dest = fields.pop("dest")
                    answer = await self._timed(self.client.send_message(fields, dest))
                else:
                    answer = await self._timed(self.client.send_messages(batch))
            except p.QueueFull:
                waiting = await self._wait_for_room(len(batch))
                if waiting == 0 and len(batch) > 1:
                    # Refused although the queue was empty: the batch is more than it takes.
                    half = len(batch) // 2
                    await self.send(batch[:half])
                    await self.send(batch[half:])
                    return
                continue
            self.sent += len(batch)
            self.queued = answer["queued"]
            return

    async def _wait_for_room(self, wanted: int) -> int:
        """Poll the queue length until `wanted` messages fit (or it is empty) and return it;
        Problem if it does not shrink within the timeout."""
        from twisted.internet.task import deferLater

        from hbtwist.control import protocol as p

        last = None
        since = self.clock.seconds()
        while True:
            answer = await self._timed(self.client.send_messages([]))
            queued: int = answer["queued"]
            if queued == 0 or queued + wanted <= p.MAX_SEND_QUEUE:
                return queued
            now = self.clock.seconds()
            if last is None or queued < last:
                since = now
            elif now - since > self.timeout:
                raise Problem(
                    f"the daemon's send queue stays full ({queued} messages waiting for "
                    f"acknowledgements, none sent for {self.timeout:g} s)"
                )
            last = queued
            await deferLater(self.clock, POLL_SECONDS, lambda: None)


def parse_pairs(kind: str, pairs: Iterable[str]) -> dict[str, str]:
    """The fields of `hbctl send TYPE NAME=VALUE...`; Problem for a malformed pair, for text
    that is not UTF-8, or for fields too big for one message."""
    from hbtwist.control.client import encode_fields
    from hbtwist.control.messages import MAX_MESSAGE_BYTES

    if not is_utf8(kind):
        raise Problem(f"the message type '{printable(kind)}' is not UTF-8 text")
    fields = {"t": kind}
    for pair in pairs:
        name, equals, value = pair.partition("=")
        if not equals or not name:
            raise Problem(f"'{printable(pair)}' is not NAME=VALUE")
        if not is_utf8(pair):
            raise Problem(f"field '{printable(name)}': not UTF-8 text ('{printable(pair)}')")
        if name in fields:
            raise Problem(f"field {name!r} is given twice")
        fields[name] = value
    size = len(encode_fields(fields).encode("utf-8"))
    if size > AMP_MAX_VALUE:
        raise Problem(
            f"the message is too big: its fields take {size:,} bytes, at most {MAX_MESSAGE_BYTES:,}"
        )
    return fields


def parse_line(line: bytes, default_dest: str | None, nodes: list[str]) -> dict[str, str]:
    """One input line of `send --stdin` as a message (fields, `dest` included), checked as the
    daemon will check it; Problem (the reason) if it is not acceptable."""
    from hbtwist.control import messages as messaging
    from hbtwist.control import protocol as p

    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise Problem("not UTF-8") from None
    try:
        record = json.loads(text, object_pairs_hook=_no_duplicates)
    except ValueError as error:
        raise Problem(f"not JSON: {error}") from None
    if not isinstance(record, dict):
        raise Problem("not a JSON object")
    dest = record.pop("dest", default_dest)
    try:
        messaging.build_message(record, dest, nodes)
    except (p.BadMessage, p.UnknownNode) as error:
        raise Problem(str(error)) from None
    if dest is not None:
        record["dest"] = dest
    return record


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for name, value in pairs:
        if name in record:
            raise ValueError(f"field {name!r} is given twice")
        record[name] = value
    return record


async def send(client: ControlClient, args: argparse.Namespace, out: TextIO) -> int:
    """`hbctl send`: 0 once every message is queued on the daemon, 1 on a refusal, 2 on misuse."""
    from hbtwist.control import protocol as p

    progress = args.progress or Progress()
    if args.stdin == bool(args.type):
        print("hbctl: give TYPE [NAME=VALUE...] or --stdin (not both)", file=sys.stderr)
        return USAGE_EXIT_STATUS
    try:
        await _require(client, "SendMessages" if args.stdin else "SendMessage")
        sender = Sender(client, _clock(args), args.timeout)
        try:
            if args.stdin:
                await _send_stdin(client, sender, args, progress)
            else:
                message = parse_pairs(args.type, args.pairs)
                if args.dest is not None:
                    if not is_utf8(args.dest):
                        raise Problem(f"--dest '{printable(args.dest)}': not UTF-8 text, no node")
                    message["dest"] = args.dest
                await sender.send([message])
        finally:
            progress.sent = sender.sent
    except Problem as problem:
        print(f"hbctl: {problem}", file=sys.stderr)
        return FAILURE_EXIT_STATUS
    except (p.BadMessage, p.UnknownNode, p.BadRequest) as problem:
        print(f"hbctl: the daemon refused the message: {problem}", file=sys.stderr)
        return FAILURE_EXIT_STATUS
    progress.finished = True
    if args.json:
        out.write(json.dumps({"sent": sender.sent, "queued": sender.queued}) + "\n")
    else:
        out.write(
            f"queued {_messages(sender.sent)} (the daemon's send queue: {sender.queued} waiting)\n"
        )
    return 0


async def _require(client: ControlClient, command: str) -> None:
    answer = await client.version()
    if command not in answer["commands"]:
        raise Problem(f"{client.address}: the daemon does not implement {command} (it is older)")


async def _chunk(source: MemoryLines | ThreadedLines) -> list[bytes] | None:
    try:
        return await source.chunk()
    except OSError as error:
        raise Problem(f"cannot read standard input: {error.strerror}") from None


async def _send_stdin(
    client: ControlClient, sender: Sender, args: argparse.Namespace, progress: Progress
) -> None:
    from hbtwist.control import protocol as p
    from hbtwist.control.client import encode_fields

    nodes = [node["name"] for node in await client.nodes()]
    source = open_lines(args.input if args.input is not None else sys.stdin)
    batch: list[dict[str, str]] = []
    used = 2
    number = 0
    while (lines := await _chunk(source)) is not None:
        for line in lines:
            number += 1
            if not line.strip():
                continue
            try:
                message = parse_line(line, args.dest, nodes)
            except Problem as problem:
                if batch:
                    await sender.send(batch)
                raise Problem(
                    f"standard input line {number}: {problem} "
                    f"({_messages(sender.sent)} before it were queued)"
                ) from None
            size = len(encode_fields(message).encode("utf-8")) + 1
            if batch and (len(batch) >= p.MAX_BATCH_MESSAGES or used + size > p.BATCH_BUDGET_BYTES):
                await sender.send(batch)
                progress.sent = sender.sent
                batch, used = [], 2
            batch.append(message)
            used += size
        if batch and not source.ready():
            await sender.send(batch)
            progress.sent = sender.sent
            batch, used = [], 2
    if batch:
        await sender.send(batch)


# hbctl listen


def _value(text: str) -> str:
    """A field value as `NAME=VALUE` shows it: bare if plain, else JSON-quoted."""
    if text and not any(c.isspace() or c in "\"'=\\" or not c.isprintable() for c in text):
        return text
    return json.dumps(text, ensure_ascii=False)


def _moment(time: float) -> str:
    return datetime.fromtimestamp(time).isoformat(sep=" ", timespec="milliseconds")


def render_message(message: dict[str, Any], as_json: bool) -> str:
    """One output line for a delivered message."""
    if as_json:
        record = {"kind": "message", **message}
        return json.dumps(record, ensure_ascii=False, separators=(", ", ": "))
    words = [_moment(message["time"]), message["sender"], message["type"]]
    if message.get("seq") is not None:
        words.append(f"seq={message['seq']}")
    if message.get("dest") is not None:
        words.append(f"dest={message['dest']}")
    words += [f"{name}={_value(value)}" for name, value in message["fields"].items()]
    return " ".join(words)


def render_gap(gap: dict[str, Any], as_json: bool) -> str:
    """One output line for a gap: messages of a node that will never be delivered."""
    if as_json:
        return json.dumps({"kind": "gap", **gap}, ensure_ascii=False, separators=(", ", ": "))
    return (
        f"{_moment(gap['time'])} GAP {gap['node']} seq={gap['first']}..{gap['last']} "
        f"lost: {gap['reason']}"
    )


async def listen(client: ControlClient, args: argparse.Namespace, out: TextIO) -> int:
    """Print messages until `--count` is reached (0) or the connection closes (1)."""
    wanted = args.count
    printed = 0
    strange = [kind for kind in args.types if not is_utf8(kind)]
    if strange:
        print(f"hbctl: the message type '{printable(strange[0])}' is not UTF-8 text", file=sys.stderr)
        return FAILURE_EXIT_STATUS

    def on_message(message: dict[str, Any]) -> None:
        nonlocal printed
        if wanted is not None and printed >= wanted:
            return
        out.write(render_message(message, args.json) + "\n")
        out.flush()
        printed += 1
        if wanted is not None and printed >= wanted:
            client.close()

    def on_gap(gap: dict[str, Any]) -> None:
        if wanted is not None and printed >= wanted:
            return
        out.write(render_gap(gap, args.json) + "\n")
        out.flush()

    if wanted is not None and wanted <= 0:
        return 0
    try:
        await _require(client, "Listen")
    except Problem as problem:
        print(f"hbctl: {problem}", file=sys.stderr)
        return FAILURE_EXIT_STATUS
    await client.listen(args.types, on_message, on_gap)
    if client.interrupted or (wanted is not None and printed >= wanted):
        return 0
    print(f"hbctl: {client.address}: the daemon closed the message stream", file=sys.stderr)
    return FAILURE_EXIT_STATUS
