"""Runs commands and resource agents on the real reactor, in a child Python.

Tests call `run_in_reactor(spec)`; the pytest process itself never starts the global reactor.
The child is a subreaper and reaps what it adopted before it exits, so the process groups the
tests kill leave no zombies behind.
"""

from __future__ import annotations

import ctypes
import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
PR_SET_CHILD_SUBREAPER = 36
SENTINEL = "HBTWIST_TEST_SENTINEL"
"""Set in the child Python's environment: an operation's environment must not carry it."""


def run_in_reactor(spec: dict[str, Any]) -> Any:
    """Run `spec` (see `_run`) in a child Python on the real reactor; its JSON answer."""
    done = subprocess.run(
        [sys.executable, __file__, json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
        env={**os.environ, SENTINEL: "leaked"},
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


async def _run(spec: dict[str, Any]) -> Any:
    from twisted.internet import reactor

    from hbtwist.config.haresources import parse_resource
    from hbtwist.config.model import LogSettings, ResourcePolicy, ResourceSettings
    from hbtwist.resources.agents import agent_for
    from hbtwist.resources.interface import AgentContext
    from hbtwist.resources.process import Command, run_command

    if spec["kind"] == "command":
        command = Command(tuple(spec["argv"]), spec["env"], spec["timeout_ms"])
        options = {key: spec[key] for key in ("grace_ms", "limit") if key in spec}
        running = run_command(reactor, reactor, command, **options)
        if "cancel_after_ms" in spec:
            reactor.callLater(spec["cancel_after_ms"] / 1000, running.cancel)
            try:
                await running
            except Exception as problem:
                return {"cancelled": type(problem).__name__}
        return dataclasses.asdict(await running)
    context = AgentContext(
        reactor=reactor,
        settings=ResourceSettings(default=ResourcePolicy(**spec.get("policy", {}))),
        log=LogSettings(**spec.get("log", {})),
        **spec["context"],
    )
    agent = agent_for(parse_resource(spec["resource"]), context)
    results = []
    for operation in spec["operations"]:
        result = await getattr(agent, operation)()
        results.append({**dataclasses.asdict(result), "outcome": result.outcome.value})
    return {"path": agent.path, "results": results}


def _reap_adopted() -> None:
    """Reap the orphans this process adopted; give killed ones a moment to die."""
    deadline = time.monotonic() + 0.5
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.02)


def main() -> None:
    """Run the spec given as the first argument and print its answer as JSON."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    from twisted.internet import reactor
    from twisted.internet.defer import Deferred

    answer: list[Any] = []

    def start() -> None:
        done = Deferred.fromCoroutine(_run(json.loads(sys.argv[1])))
        done.addCallback(answer.append)
        done.addErrback(lambda failure: failure.printTraceback(file=sys.stderr))
        done.addBoth(lambda _: reactor.stop())

    reactor.callWhenRunning(start)
    reactor.run()
    _reap_adopted()
    if not answer:
        sys.exit("the run ended without an answer")
    print(json.dumps(answer[0]))


if __name__ == "__main__":
    main()
