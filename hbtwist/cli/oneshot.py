"""One-shot commands on a UNIX socket, without Twisted: the quick path of `run_remote`.

A query or a request needs one connection and a few answers, and importing Twisted takes many
times as long as a bare Python start. `hbtwist.control.ampsocket` asks from a blocking socket
instead. `OneShotClient` offers the coroutine methods of `hbtwist.control.client.ControlClient`
that hbctl's one-shot commands await; they never suspend, so `finish` runs a command to its end
at once. Every outcome is reported in the same words and exit statuses as on the reactor.
"""

from __future__ import annotations

import sys
import time

from hbtwist.cli.remote import (
    report_failure,
    report_no_answer,
    report_too_long,
    report_unreachable,
)
from hbtwist.control import ampsocket

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Coroutine
    from typing import Any

    from hbtwist.cli.remote import Command, OnUnreachable


class OneShotClient:
    """`ControlClient`'s calls for one-shot commands, over a blocking `ampsocket.Connection`;
    paged answers are gathered in full."""

    def __init__(self, connection: ampsocket.Connection) -> None:
        self.connection = connection
        self.address = connection.address

    async def version(self) -> dict[str, Any]:
        """The `Version` answer."""
        return self.connection.call(ampsocket.VERSION)

    async def local_status(self) -> dict[str, Any]:
        """The `LocalStatus` answer."""
        return self.connection.call(ampsocket.LOCAL_STATUS)

    async def nodes(self) -> list[dict[str, Any]]:
        """Every node (all pages of `Nodes`)."""
        return self._all(ampsocket.NODES)

    async def node(self, name: str) -> dict[str, Any]:
        """One node; `ampsocket.UnknownNode` if there is none of that name."""
        return self.connection.call(ampsocket.NODE, name=name)

    async def links(self, node: str | None = None) -> list[dict[str, Any]]:
        """Every link of `node`, or of all nodes (all pages of `Links`)."""
        return self._all(ampsocket.LINKS, node=node)

    async def parameter(self, name: str) -> str | None:
        """A `getparm` value, None when unset."""
        value: str | None = self.connection.call(ampsocket.PARAMETER, name=name)["value"]
        return value

    async def resources(self) -> str:
        """Which resources this node holds (`none`, `local`, `foreign`, `all`, `transition`)."""
        hold: str = self.connection.call(ampsocket.RESOURCES)["hold"]
        return hold

    async def resource_status(self) -> dict[str, Any]:
        """The resource manager's state: the `ResourceStatus` JSON object, decoded."""
        import json

        answer = self.connection.call(ampsocket.RESOURCE_STATUS)
        status: dict[str, Any] = json.loads(answer["status"])
        return status

    async def standby(self, which: str) -> str | None:
        """Ask the node to go standby for `which`; None when the request was sent, else why
        the node refused it."""
        return _refusal(self.connection.call(ampsocket.STANDBY, which=which))

    async def takeover(self, which: str) -> str | None:
        """Ask the node to take over `which`; None when the request was sent, else why the
        node refused it."""
        return _refusal(self.connection.call(ampsocket.TAKEOVER, which=which))

    def _all(self, command: ampsocket.Command, **arguments: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        offset: int | None = 0
        while offset is not None:
            answer = self.connection.call(command, offset=offset, **arguments)
            items.extend(answer["items"])
            next_offset = answer["next"]
            offset = next_offset if next_offset is not None and next_offset > offset else None
        return items


def _refusal(answer: dict[str, Any]) -> str | None:
    """None when a `Standby`/`Takeover` answer says the request was sent, else its reason."""
    if answer["accepted"]:
        return None
    reason: str | None = answer["reason"]
    return reason or "refused"


def finish(work: Coroutine[Any, Any, int]) -> int:
    """The result of a command coroutine that never suspends (its awaits are all answered at
    once); RuntimeError if it does suspend, waiting for something only the reactor gives."""
    try:
        work.send(None)
    except StopIteration as done:
        status: int = done.value
        return status
    work.close()
    raise RuntimeError("the command waited for an event; it needs the reactor")


def run_blocking(
    args: argparse.Namespace,
    command: Command,
    path: str,
    address: str,
    on_unreachable: OnUnreachable,
    timeout_exit: int,
) -> int:
    """Run `command` against the daemon listening on `path`; connecting and checking the
    protocol version may take `--timeout` seconds, then the command as long again."""
    out = sys.stdout
    connection = None
    try:
        connection = ampsocket.connect(path, address, args.timeout)
        connection.deadline = time.monotonic() + args.timeout
        status = finish(command(OneShotClient(connection), args, out))
    except ampsocket.Unreachable as problem:
        status = report_unreachable(problem, args, out, on_unreachable, timeout_exit)
    except ampsocket.NoAnswer:
        status = report_no_answer(args, timeout_exit)
    except ampsocket.TooLong as problem:
        status = report_too_long(problem.key_name, problem.value)
    except Exception as problem:
        status = report_failure(problem)
    finally:
        if connection is not None:
            connection.close()
    out.flush()
    return status
