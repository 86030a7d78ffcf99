"""A daemon started by the lab, and what its JSON log says (`event` records)."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.integration.shell import STOP_TIMEOUT, LabError, stop_process

if TYPE_CHECKING:
    from tests.integration.lab import Host, Lab


@dataclass
class View:
    """What one node last reported: the status of every node and of every (node, link)."""

    nodes: dict[str, str] = field(default_factory=dict)
    links: dict[tuple[str, str], str] = field(default_factory=dict)
    generations: dict[str, int] = field(default_factory=dict)

    def node(self, name: str) -> str | None:
        """The last reported status of node `name` (None if never reported)."""
        return self.nodes.get(name)

    def link(self, node: str, link: str) -> str | None:
        """The last reported status of the link to `node` through medium `link`."""
        return self.links.get((node, link))


def describe_event(event: dict[str, Any]) -> str:
    """One readable line for a JSON log record."""
    stamp = event.get("time")
    when = "?"
    if isinstance(stamp, (int, float)):
        when = time.strftime("%H:%M:%S", time.localtime(stamp)) + f".{int(stamp * 1000) % 1000:03d}"
    text = event.get("text", "")
    kind = event.get("event")
    return f"{when} {'[' + kind + '] ' if kind else ''}{text}"


class Node:
    """One daemon process started by the lab, and its JSON log."""

    def __init__(
        self,
        lab: Lab,
        host: Host,
        proc: subprocess.Popen[Any],
        log_path: Path,
        err_path: Path,
        config_dir: Path,
        state_dir: Path,
        started_at: float,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.lab = lab
        self.host = host
        self.name = host.name
        self.proc = proc
        self.log_path = log_path
        self.err_path = err_path
        self.config_dir = config_dir
        self.state_dir = state_dir
        self.started_at = started_at
        self.extra_args = tuple(extra_args)
        self._records: list[dict[str, Any]] = []
        self._offset = 0
        self._partial = b""

    def __repr__(self) -> str:
        return f"<Node {self.name} pid {self.pid} log {self.log_path}>"

    @property
    def pid(self) -> int:
        """The daemon's process id (`ip netns exec` execs it, so this is the daemon itself)."""
        return self.proc.pid

    @property
    def running(self) -> bool:
        """Whether the process is still running."""
        return self.proc.poll() is None

    # The log

    def records(self) -> list[dict[str, Any]]:
        """Every JSON log record written so far (complete lines only)."""
        try:
            with open(self.log_path, "rb") as log:
                log.seek(self._offset)
                data = log.read()
        except FileNotFoundError:
            return self._records
        self._offset += len(data)
        data = self._partial + data
        *lines, self._partial = data.split(b"\n")
        for line in lines:
            line = line.strip()
            if not line:
                continue
            try:
                self._records.append(json.loads(line))
            except ValueError:
                self._records.append({"text": f"unparsable log line: {line!r}"})
        return self._records

    def events(self, kind: str | None = None, **fields: Any) -> list[dict[str, Any]]:
        """The node events (records with `event`), optionally of one kind and matching fields."""
        return [
            record
            for record in self.records()
            if "event" in record
            and (kind is None or record["event"] == kind)
            and all(record.get(key) == value for key, value in fields.items())
        ]

    def view(self) -> View:
        """The latest status of every node and every (node, link), as this node reported them."""
        view = View()
        for event in self.events():
            kind = event["event"]
            if kind == "node_status_changed":
                view.nodes[event["node"]] = event["new"]
                view.generations[event["node"]] = event["generation"]
            elif kind == "link_status_changed":
                view.links[(event["node"], event["link"])] = event["new"]
            elif kind == "node_restarted":
                view.generations[event["node"]] = event["new_generation"]
        return view

    def tail(self, lines: int = 25) -> str:
        """The end of the log (readable) and of standard error, for failure messages."""
        records = self.records()[-lines:]
        text = [f"--- {self.name} (pid {self.pid}, log {self.log_path}) ---"]
        text += [describe_event(record) for record in records]
        try:
            errors = self.err_path.read_text(errors="replace").splitlines()[-lines:]
        except FileNotFoundError:
            errors = []
        if errors:
            text.append(f"--- {self.name} stderr ---")
            text += errors
        if not self.running:
            text.append(f"--- {self.name} exited with status {self.proc.returncode} ---")
        return "\n".join(text)

    # Waiting

    def wait_for(
        self, predicate: Callable[[View], bool], timeout: float = 10.0, what: str | None = None
    ) -> View:
        """Poll the view until `predicate(view)` holds; raise LabError (with the log tail) after
        `timeout` seconds or as soon as the daemon exits."""
        deadline = time.monotonic() + timeout
        while True:
            view = self.view()
            if predicate(view):
                return view
            if not self.running:
                raise LabError(
                    f"{self.name} exited while waiting for {what or predicate}\n{self.tail()}"
                )
            if time.monotonic() >= deadline:
                raise LabError(
                    f"{self.name}: {what or predicate} not seen within {timeout} s\n"
                    f"view: {view}\n{self.tail()}"
                )
            time.sleep(0.05)

    def wait_event(
        self,
        kind: str,
        timeout: float = 10.0,
        since: float | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """Wait for the first event of `kind` matching `fields` (logged at or after `since`)."""
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events(kind, **fields):
                if since is None or event.get("time", 0) >= since:
                    return event
            if not self.running:
                raise LabError(f"{self.name} exited while waiting for {kind} {fields}\n{self.tail()}")
            if time.monotonic() >= deadline:
                raise LabError(f"{self.name}: no {kind} {fields} within {timeout} s\n{self.tail()}")
            time.sleep(0.05)

    def wait_logged(self, text: str, count: int = 1, timeout: float = 10.0) -> None:
        """Wait until `count` log records contain `text` (debug records included)."""
        deadline = time.monotonic() + timeout
        while sum(text in str(record.get("text", "")) for record in self.records()) < count:
            if not self.running:
                raise LabError(f"{self.name} exited while waiting for {text!r}\n{self.tail()}")
            if time.monotonic() >= deadline:
                raise LabError(f"{self.name}: {count} x {text!r} not logged within {timeout} s")
            time.sleep(0.05)

    # The process

    def kill(self, sig: int = signal.SIGTERM) -> None:
        """Send a signal to the daemon."""
        if self.running:
            self.proc.send_signal(sig)

    def wait(self, timeout: float = STOP_TIMEOUT) -> int:
        """Wait (bounded) for the daemon to exit and reap it; its exit status."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired as error:
            raise LabError(f"{self.name} still running after {timeout} s\n{self.tail()}") from error

    def stop(self) -> int | None:
        """SIGTERM, wait, SIGKILL if needed; the exit status."""
        stop_process(self.proc)
        return self.proc.returncode
