"""The host's side of fencing: the `stonith` command line, how its end is read, the child process
run through the reactor (a recording fake here: no process is started), the answer to the
resource manager, and the fence counter in the metrics."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from twisted.internet.error import ProcessDone, ProcessTerminated
from twisted.internet.task import Clock
from twisted.logger import capturedLogs, formatEvent
from twisted.python.failure import Failure

from hbtwist.config import load_config
from hbtwist.config.checks import STONITH_PROGRAM
from hbtwist.config.model import StonithDevice
from hbtwist.control.metrics import EventTally
from hbtwist.core.events import FenceResult
from hbtwist.daemon.groups import GroupHost
from hbtwist.resources.process import SETSID, Completed
from hbtwist.resources.stonith import Fencer, ResetOutcome, outcome_of, reset_command
from tests.conftest import write_config
from tests.unit.test_metrics import cluster, scrape, value

DEVICE = StonithDevice("external/ipmi", parameters="beta 192.0.2.5 root")
NODES = ("alpha", "beta")


class Transport:
    """A child's transport without a process: no pid, so nothing is ever signalled."""

    pid = None

    def closeStdin(self) -> None:  # noqa: N802
        """The child's standard input is closed at once; nothing to do here."""


class ProcessReactor(Clock):
    """A clock that records the processes it is asked to spawn instead of starting them."""

    def __init__(self) -> None:
        super().__init__()
        self.spawned: list[tuple[Any, str, tuple[str, ...], dict[str, str]]] = []

    def spawnProcess(  # noqa: N802
        self, protocol: Any, executable: str, args: tuple[str, ...], env: dict[str, str], **_: Any
    ) -> None:
        protocol.makeConnection(Transport())
        self.spawned.append((protocol, executable, tuple(args), env))

    def end(self, index: int, exit_code: int) -> None:
        """The spawned child `index` exits with `exit_code` and closes its pipes."""
        protocol = self.spawned[index][0]
        reason = ProcessDone(0) if exit_code == 0 else ProcessTerminated(exitCode=exit_code)
        protocol.processExited(Failure(reason))
        protocol.processEnded(Failure(reason))


def completed(exit_code: int | None, timed_out: bool = False, error: str | None = None) -> Completed:
    """How a `stonith` run ended, with a last line of output."""
    return Completed(exit_code, None, "", "external/ipmi: reset failed\n", 900, timed_out, error)


def test_command_with_parameters_or_a_file() -> None:
    """`stonith_host` gives `-p PARAMETERS`, `stonith` gives `-F FILE`; `--` comes before the
    node, so that no name can be read as an option."""
    assert reset_command(DEVICE, "beta") == (
        STONITH_PROGRAM, "-t", "external/ipmi", "-p", "beta 192.0.2.5 root", "-T", "reset", "--", "beta",
    )  # fmt: skip
    from_file = StonithDevice("baytech", config_file="/etc/ha.d/stonith.cfg")
    assert reset_command(from_file, "-x", program="/opt/stonith") == (
        "/opt/stonith", "-t", "baytech", "-F", "/etc/ha.d/stonith.cfg", "-T", "reset", "--", "-x",
    )  # fmt: skip


def test_exit_status_gives_heartbeats_result() -> None:
    """0 is `OK`; 4 (S_BADHOST) is `badhost`; any other status, a timeout or a failure to run
    is `bad`, with how it ended and the last line it wrote."""
    assert outcome_of(completed(0)).result == "OK"
    assert outcome_of(completed(4)).result == "badhost"
    bad = outcome_of(completed(5))
    assert bad == ResetOutcome("bad", "exit code 5: external/ipmi: reset failed", 900)
    assert outcome_of(completed(4, timed_out=True)).result == "bad"
    assert outcome_of(completed(None, error="No such file or directory")).result == "bad"


def test_reset_runs_stonith_in_its_own_session_with_only_path() -> None:
    """A reset spawns `setsid stonith ...` with nothing but PATH in its environment, and answers
    with the result of its exit status."""
    reactor = ProcessReactor()
    fencer = Fencer(DEVICE, NODES, reactor)
    outcomes: list[ResetOutcome] = []
    fencer.reset("beta").addCallback(outcomes.append)
    [(_, executable, args, env)] = reactor.spawned
    assert (executable, args) == (SETSID, (SETSID, *reset_command(DEVICE, "beta")))
    assert set(env) == {"PATH"}
    assert outcomes == []
    reactor.end(0, 4)
    assert [outcome.result for outcome in outcomes] == ["badhost"]
    assert reactor.getDelayedCalls() == []


def test_timeout_makes_a_reset_bad() -> None:
    """A reset still running at its timeout is killed and counts as `bad`."""
    reactor = ProcessReactor()
    fencer = Fencer(DEVICE, NODES, reactor, timeout_ms=1_000)
    outcomes: list[ResetOutcome] = []
    fencer.reset("beta").addCallback(outcomes.append)
    reactor.advance(1.0)
    reactor.end(0, 0)
    assert [(o.result, o.detail.startswith("timed out")) for o in outcomes] == [("bad", True)]
    reactor.advance(10.0)  # the SIGKILL still due after the grace period (to no pid here)


def test_only_configured_nodes_are_reset() -> None:
    """A name that is not one of ha.cf's nodes runs nothing and answers `badhost`."""
    reactor = ProcessReactor()
    outcomes: list[ResetOutcome] = []
    Fencer(DEVICE, NODES, reactor).reset("gamma").addCallback(outcomes.append)
    assert reactor.spawned == []
    assert [outcome.result for outcome in outcomes] == ["badhost"]


def test_cancel_ends_running_resets_as_bad() -> None:
    """At shutdown a running reset is killed; it ends as `bad`, `cancelled`, and never errs."""
    reactor = ProcessReactor()
    fencer = Fencer(DEVICE, NODES, reactor)
    outcomes: list[ResetOutcome] = []
    fencer.reset("beta").addCallback(outcomes.append)
    fencer.cancel()
    assert outcomes == [ResetOutcome("bad", "cancelled", 0)]
    assert reactor.getDelayedCalls() == []


class Manager:
    """Records the answers the host gives the resource manager."""

    def __init__(self) -> None:
        self.answers: list[tuple[str, str]] = []

    def fence_done(self, node: str, result: str) -> None:
        self.answers.append((node, result))


def group_host(
    tmp_path: Path, device: StonithDevice | None
) -> tuple[GroupHost, ProcessReactor, Manager]:
    """A GroupHost for node alpha (no resource groups) with `device`, on a recording reactor."""
    config = load_config(write_config(tmp_path / "ha.d", haresources=""), local_node="alpha")
    config = dataclasses.replace(config, hacf=dataclasses.replace(config.hacf, stonith=device))
    reactor, manager = ProcessReactor(), Manager()
    host = GroupHost(config, reactor, lambda event: None)
    host.manager = manager  # type: ignore[assignment]
    return host, reactor, manager


def test_group_host_answers_the_manager_and_logs_the_command(tmp_path: Path) -> None:
    """`fence(node)` runs the device's command and tells the manager its result, with a log line
    saying how the command ended."""
    host, reactor, manager = group_host(tmp_path, DEVICE)
    with capturedLogs() as logs:
        host.fence("beta")
        reactor.end(0, 0)
    assert manager.answers == [("beta", "OK")]
    lines = [formatEvent(log) for log in logs]
    assert any(line.startswith("STONITH command for beta: OK in ") for line in lines), lines


def test_group_host_without_a_device_answers_bad(tmp_path: Path) -> None:
    """Asked to fence with no device configured, the host runs nothing and answers `bad`."""
    host, reactor, manager = group_host(tmp_path, None)
    host.fence("beta")
    assert reactor.spawned == [] and manager.answers == [("beta", "bad")]


def test_fence_results_are_counted_by_result() -> None:
    """`hbtwist_fence_resets_total{result}` counts FenceResult events; all three results are
    always present."""
    tally = EventTally()
    for result in ("bad", "bad", "OK"):
        tally(FenceResult("n2", "null", result, 1))
    _, samples = scrape(cluster(), tally)
    assert value(samples, "hbtwist_fence_resets_total", result="bad") == 2
    assert value(samples, "hbtwist_fence_resets_total", result="OK") == 1
    assert value(samples, "hbtwist_fence_resets_total", result="badhost") == 0
    assert value(samples, "hbtwist_events_total", event="fence_result") == 3
