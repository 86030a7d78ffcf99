"""Resource scripts, OCF agents and their instance files, and which agent runs a resource.

Lookups, the status text rules, instance files and agent choice are checked in process; runs
of real scripts and of the installed OCF `Dummy` agent go through the real reactor in a child
Python (tests/unit/agents/driver.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from twisted.internet.defer import Deferred

from hbtwist.config.haresources import parse_resource
from hbtwist.config.model import Resource, ResourcePolicy, ResourceSettings
from hbtwist.resources.agents import agent_for
from hbtwist.resources.interface import AgentContext, IResourceAgent, OperationResult, Outcome
from hbtwist.resources.ocf import OcfAgent, find_agent, monitor_outcome
from hbtwist.resources.ocfconf import OcfConfError, parse_conf
from hbtwist.resources.process import Completed
from hbtwist.resources.scripts import ScriptAgent, status_from_text
from tests.prereq import require
from tests.unit.agents.driver import SENTINEL, run_in_reactor

DUMMY = Path("/usr/lib/ocf/resource.d/heartbeat/Dummy")


def executable(path: Path, body: str) -> Path:
    """An executable /bin/sh script at `path` (parents made); its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\n{body}")
    path.chmod(0o755)
    return path


def dirs(tmp_path: Path) -> dict[str, str]:
    """A configuration, a Heartbeat, an init and an OCF directory, all inside tmp_path."""
    return {
        "config_dir": str(tmp_path / "conf"),
        "heartbeat_dir": str(tmp_path / "ha.d"),
        "init_dir": str(tmp_path / "init.d"),
        "ocf_root": str(tmp_path / "ocf"),
    }


def context(tmp_path: Path, **changes: Any) -> AgentContext:
    """An agent context over `dirs(tmp_path)` with no reactor (nothing is run)."""
    return AgentContext(reactor=None, **{**dirs(tmp_path), **changes})


def operate(tmp_path: Path, resource: str, operations: list[str], **spec: Any) -> dict[str, Any]:
    """Run `operations` on `resource` in the child Python; the agent path and the results."""
    answer: dict[str, Any] = run_in_reactor(
        {"kind": "agent", "resource": resource, "context": dirs(tmp_path),
         "operations": operations, **spec}
    )  # fmt: skip
    return answer


def result_now(running: Deferred[OperationResult]) -> OperationResult:
    """The result of an operation that finished without running anything."""
    results: list[OperationResult] = []
    running.addCallback(results.append)
    assert results, "the operation did not finish at once"
    return results[0]


# The status text rules of ResourceManager


@pytest.mark.parametrize(
    ("stdout", "outcome"),
    [
        ("apache is running\n", Outcome.OK),
        ("INFO: IPaddr2 Running OK\n", Outcome.OK),
        ("all OK", Outcome.OK),
        ("apache is not running\n", Outcome.NOT_RUNNING),
        ("Apache NOT   Running", Outcome.NOT_RUNNING),
        ("line one\nservice is not running\nbye\n", Outcome.NOT_RUNNING),
        ("service is not\nrunning", Outcome.OK),
        ("notrunning", Outcome.OK),
        ("stopped\n", Outcome.NOT_RUNNING),
        ("", Outcome.NOT_RUNNING),
        ("ok\n", Outcome.NOT_RUNNING),
        ("dead but pid file exists\n", Outcome.NOT_RUNNING),
    ],
)
def test_status_is_read_from_the_text(stdout: str, outcome: Outcome) -> None:
    """`*[Nn][Oo][Tt]\\ *[Rr]unning*` is not running, `*[Rr]unning*` or `*OK*` running, and
    anything else not running, as ResourceManager's case statement reads the whole output (the
    space after `not` is literal: `not` at the end of a line does not count)."""
    assert status_from_text(stdout) is outcome


# Finding scripts and agents


def test_script_lookup_order(tmp_path: Path) -> None:
    """A script is looked for in the configuration's resource.d, then Heartbeat's, then the init
    directory; a file that is not executable is passed over."""
    ctx = context(tmp_path)
    agent = ScriptAgent(parse_resource("svc"), ctx)
    assert agent.path == "svc"
    init = executable(tmp_path / "init.d" / "svc", "")
    assert agent.path == str(init)
    heartbeat = executable(tmp_path / "ha.d" / "resource.d" / "svc", "")
    assert agent.path == str(heartbeat)
    own = executable(tmp_path / "conf" / "resource.d" / "svc", "")
    own.chmod(0o644)
    assert agent.path == str(heartbeat)
    own.chmod(0o755)
    assert agent.path == str(own)


@pytest.mark.parametrize("operation", ["start", "stop", "status"])
def test_missing_script_fails_naming_where_it_was_looked_for(tmp_path: Path, operation: str) -> None:
    """With no script anywhere every operation fails at once, naming the three places."""
    result = result_now(
        getattr(ScriptAgent(parse_resource("nosuch::x"), context(tmp_path)), operation)()
    )
    assert result.outcome is Outcome.FAILED and result.operation == operation
    for directory in ("conf/resource.d/nosuch", "ha.d/resource.d/nosuch", "init.d/nosuch"):
        assert str(tmp_path / directory) in result.detail


def test_ocf_agent_found_in_the_heartbeat_provider_first(tmp_path: Path) -> None:
    """The agent is the first executable `<ocf_root>/resource.d/<provider>/<type>`, provider
    `heartbeat` first, then the others in sorted order."""
    root = tmp_path / "ocf"
    assert find_agent(str(root), "Thing") is None
    executable(root / "resource.d" / "zeta" / "Thing", "")
    acme = executable(root / "resource.d" / "acme" / "Thing", "")
    assert find_agent(str(root), "Thing") == (str(acme), "acme")
    heartbeat = executable(root / "resource.d" / "heartbeat" / "Thing", "")
    assert find_agent(str(root), "Thing") == (str(heartbeat), "heartbeat")


@pytest.mark.parametrize(
    ("exit_code", "outcome"),
    [(0, Outcome.OK), (7, Outcome.NOT_RUNNING), (1, Outcome.FAILED), (5, Outcome.FAILED)],
)
def test_ocf_monitor_is_read_from_the_exit_status(exit_code: int, outcome: Outcome) -> None:
    """monitor: 0 running, 7 cleanly stopped, anything else failed."""
    completed = Completed(exit_code, None, "", "", 5, False)
    assert monitor_outcome(completed) is outcome


def test_ocf_without_agent_or_instance_file_fails(tmp_path: Path) -> None:
    """A missing agent, then a missing instance file (both places named), fail at once."""
    agent = OcfAgent(parse_resource("OCF::Thing::one"), context(tmp_path))
    assert "no executable OCF agent" in result_now(agent.start()).detail
    executable(tmp_path / "ocf" / "resource.d" / "heartbeat" / "Thing", "")
    detail = result_now(agent.status()).detail
    assert str(tmp_path / "conf/conf/OCF/Thing/one") in detail
    assert str(tmp_path / "ha.d/conf/OCF/Thing/one") in detail


def test_ocf_instance_file_problem_fails_with_its_line(tmp_path: Path) -> None:
    """An instance file that cannot be read safely fails the operation with FILE:LINE."""
    executable(tmp_path / "ocf" / "resource.d" / "heartbeat" / "Thing", "")
    conf = tmp_path / "ha.d" / "conf" / "OCF" / "Thing" / "one"
    conf.parent.mkdir(parents=True)
    conf.write_text("# ok\nOCF_RESKEY_a=1\nOCF_RESKEY_b=$(reboot)\n")
    result = result_now(OcfAgent(parse_resource("OCF::Thing::one"), context(tmp_path)).stop())
    assert result.outcome is Outcome.FAILED
    assert result.detail.startswith(f"{conf}:3: ")


def test_ocf_instance_names_stay_inside_their_directory(tmp_path: Path) -> None:
    """An instance named `..` is refused rather than looked up outside conf/OCF/<type>/."""
    resource = Resource("OCF", ("Thing", ".."), "OCF::Thing::..")
    result = result_now(OcfAgent(resource, context(tmp_path)).start())
    assert result.outcome is Outcome.FAILED and "OCF::<agent type>::<instance name>" in result.detail


# Instance files


def test_instance_file_values() -> None:
    """Assignments with and without `export`, quotes, comments and several per line are read;
    the last assignment of a name wins."""
    text = (
        b"# OCF instance\n\n"
        b"OCF_RESKEY_ip=192.0.2.10\n"
        b'  export OCF_RESKEY_nic="eth0"   # the LAN\n'
        b"OCF_RESKEY_opts='-a -b $x' OCF_RESKEY_mixed=a\"b c\"'d'\n"
        b"OCF_RESKEY_empty= OCF_RESKEY_hash=a#b\n"
        b"export OCF_RESKEY_ip\n"
        b"OCF_RESKEY_ip=192.0.2.11\r\n"
    )
    assert parse_conf(text, "f") == {
        "OCF_RESKEY_ip": "192.0.2.11",
        "OCF_RESKEY_nic": "eth0",
        "OCF_RESKEY_opts": "-a -b $x",
        "OCF_RESKEY_mixed": "ab cd",
        "OCF_RESKEY_empty": "",
        "OCF_RESKEY_hash": "a#b",
    }


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("A=$HOME", "'$' is shell syntax"),
        ("A=`id`", "'`' is shell syntax"),
        ('A="x $y"', "'$' inside double quotes"),
        ("A='open", "unterminated ' quote"),
        ("A=1; reboot", "';' is shell syntax"),
        ("A=1 reboot", "(a command?)"),
        ("reboot", "(a command?)"),
        ("A=a\\ b", "'\\\\' is shell syntax"),
        ("A=*.conf", "file name pattern"),
        ("A=~/x", "tilde expansion"),
        ("export B", "not assigned above"),
        ("1A=x", "expected NAME=value"),
        ("A=x > /tmp/f", "'>' is shell syntax"),
    ],
)
def test_instance_file_refuses_what_it_cannot_read_safely(line: str, problem: str) -> None:
    """Expansions, commands, escapes, patterns and bad names are errors naming FILE:LINE."""
    with pytest.raises(OcfConfError) as caught:
        parse_conf(f"# first\n{line}\n".encode(), "conf/OCF/T/i")
    assert str(caught.value).startswith("conf/OCF/T/i:2: ")
    assert problem in caught.value.problem
    assert isinstance(caught.value, ValueError)


def test_instance_file_not_utf8() -> None:
    """Bytes that are not UTF-8 are an error on their line."""
    with pytest.raises(OcfConfError, match=r"^f:1: not UTF-8 text$"):
        parse_conf(b"A=\xff\n", "f")


# Which agent runs a resource


class _Native:
    """A stand-in for an in-process agent."""

    def __init__(self, resource: Resource) -> None:
        self.resource = resource
        self.path = "native"


def test_native_agent_first_when_allowed(tmp_path: Path) -> None:
    """A native factory is asked first when `native_ip` is on; its None falls back to the
    script, and with `native_ip off` it is not asked at all."""
    asked: list[str] = []

    def native(resource: Resource, _: AgentContext) -> IResourceAgent | None:
        asked.append(resource.text)
        return _Native(resource) if resource.script == "IPaddr" else None  # type: ignore[return-value]

    ip, other = parse_resource("192.0.2.10"), parse_resource("svc")
    assert agent_for(ip, context(tmp_path), native).path == "native"
    assert isinstance(agent_for(other, context(tmp_path), native), ScriptAgent)
    assert asked == ["192.0.2.10", "svc"]
    off = ResourceSettings(overrides=(("192.0.2.10", ResourcePolicy(native_ip=False)),))
    assert isinstance(agent_for(ip, context(tmp_path, settings=off), native), ScriptAgent)
    assert asked == ["192.0.2.10", "svc"]


def test_ocf_resources_get_the_ocf_agent(tmp_path: Path) -> None:
    """`OCF::<type>::<instance>` is run by the OCF agent, everything else by its script."""
    assert isinstance(agent_for(parse_resource("OCF::Dummy::one"), context(tmp_path)), OcfAgent)
    assert isinstance(agent_for(parse_resource("httpd"), context(tmp_path)), ScriptAgent)


# Real runs


def test_script_calling_convention_and_results(tmp_path: Path) -> None:
    """`<script> args... op`: start and stop by exit status, status by its text whatever the
    exit status, with the script's last line as the detail."""
    executable(
        tmp_path / "conf" / "resource.d" / "svc",
        'echo "args: $*"\ncase "$3" in\n'
        '  start) exit 0;;\n  stop) echo "cannot stop" >&2; exit 1;;\n'
        '  status) echo "svc is running"; exit 3;;\nesac\n',
    )
    answer = operate(tmp_path, "svc::a::b", ["start", "stop", "status"])
    assert answer["path"] == str(tmp_path / "conf" / "resource.d" / "svc")
    start, stop, status = answer["results"]
    assert (start["outcome"], start["detail"], start["exit_code"]) == ("ok", "args: a b start", 0)
    assert (stop["outcome"], stop["detail"], stop["exit_code"]) == (
        "failed", "exit code 1: args: a b stop", 1,
    )  # fmt: skip
    assert (status["outcome"], status["detail"]) == ("ok", "svc is running")


def test_script_status_not_running_text(tmp_path: Path) -> None:
    """A status printing `not running` is not running even with exit status 0."""
    executable(tmp_path / "init.d" / "svc", 'echo "svc is not running"\n')
    (status,) = operate(tmp_path, "svc", ["status"])["results"]
    assert (status["outcome"], status["exit_code"]) == ("not running", 0)


def test_script_environment(tmp_path: Path) -> None:
    """Scripts get the fixed environment Heartbeat's scripts expect, logging as configured,
    and nothing of the daemon's own environment (PWD is the shell's own, the directory `/`)."""
    env = _env_of(tmp_path, log={"facility": "local7", "logfile": "/var/log/ha-log", "debug": 1})
    assert env.pop("PWD") == "/"
    assert env == {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HA_DIR": str(tmp_path / "conf"),
        "HA_FUNCS": str(tmp_path / "ha.d" / "shellfuncs"),
        "HA_debug": "1",
        "HA_LOGFACILITY": "local7",
        "HA_LOGFILE": "/var/log/ha-log",
        "OCF_ROOT": str(tmp_path / "ocf"),
        "OCF_AGENTS": str(tmp_path / "ocf" / "resource.d" / "heartbeat") + "/",
    }
    assert SENTINEL not in env


def _env_of(tmp_path: Path, **spec: Any) -> dict[str, str]:
    """The environment a script sees, written by the script to a file in tmp_path."""
    out = tmp_path / "env.out"
    executable(tmp_path / "ha.d" / "resource.d" / "envdump", f"env > {out}\n")
    operate(tmp_path, "envdump", ["start"], **spec)
    return dict(line.split("=", 1) for line in out.read_text().splitlines())


def test_start_timeout_from_the_policy(tmp_path: Path) -> None:
    """A start that outlives the policy's start timeout is killed and reported as a timeout."""
    executable(tmp_path / "init.d" / "slow", "echo starting\nsleep 30\n")
    (start,) = operate(tmp_path, "slow", ["start"], policy={"start_timeout_ms": 200})["results"]
    assert start["outcome"] == "timeout"
    assert start["detail"].startswith("timed out after ") and start["detail"].endswith(": starting")


def test_ocf_agent_environment(tmp_path: Path) -> None:
    """An OCF agent gets the instance file's values and the OCF variables, its action as $1."""
    out = tmp_path / "env.out"
    executable(tmp_path / "ocf" / "resource.d" / "acme" / "Probe", f'env > {out}\necho "$1"\n')
    conf = tmp_path / "conf" / "conf" / "OCF" / "Probe" / "web"
    conf.parent.mkdir(parents=True)
    conf.write_text("export OCF_RESKEY_port=8080\nOCF_RESOURCE_INSTANCE=spoofed\n")
    answer = operate(tmp_path, "OCF::Probe::web", ["start"])
    assert answer["results"][0]["detail"] == "start"
    env = dict(line.split("=", 1) for line in out.read_text().splitlines())
    assert {key: env[key] for key in env if key.startswith("OCF_") and key != "OCF_AGENTS"} == {
        "OCF_RESKEY_port": "8080",
        "OCF_ROOT": str(tmp_path / "ocf"),
        "OCF_RA_VERSION_MAJOR": "1",
        "OCF_RA_VERSION_MINOR": "0",
        "OCF_RESOURCE_INSTANCE": "web",
        "OCF_RESOURCE_TYPE": "Probe",
        "OCF_RESOURCE_PROVIDER": "acme",
    }


def test_ocf_dummy_agent_start_monitor_stop(tmp_path: Path) -> None:
    """The installed OCF Dummy agent, configured by an instance file, starts, is seen running
    by monitor, stops, and is then seen cleanly stopped."""
    require(DUMMY.is_file(), f"needs the resource-agents package ({DUMMY})")
    state = tmp_path / "dummy.state"
    conf = tmp_path / "ha.d" / "conf" / "OCF" / "Dummy" / "one"
    conf.parent.mkdir(parents=True)
    conf.write_text(f'# the Dummy agent\nOCF_RESKEY_state="{state}"\n')
    spec = {"context": {**dirs(tmp_path), "ocf_root": "/usr/lib/ocf"}}
    answer = operate(tmp_path, "OCF::Dummy::one", ["status", "start", "status", "stop", "status"],
                     **spec)  # fmt: skip
    assert answer["path"] == str(DUMMY)
    outcomes = [(r["operation"], r["outcome"]) for r in answer["results"]]
    assert outcomes == [
        ("monitor", "not running"), ("start", "ok"), ("monitor", "ok"), ("stop", "ok"),
        ("monitor", "not running"),
    ]  # fmt: skip
    assert not state.exists()
