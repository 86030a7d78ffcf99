"""`hbctl standby`, `takeover`, `resources`, `rscstatus` and the resource events of `hbctl events`,
against an in-memory daemon serving a fake node's resource snapshot."""

from __future__ import annotations

import io
import json

import pytest
from twisted.internet.task import Clock

from hbtwist.cli import events as events_command
from hbtwist.cli import resources as resources_command
from hbtwist.cli.main import build_parser, main
from hbtwist.control import protocol as p
from hbtwist.control.view import NodeView, failover_record
from tests.doubles.control import connect_in_memory, run_pumped
from tests.doubles.node import HOLDING, FakeClusterNode, failover, snapshot

TABLES = """\
holding:       local
stable:        yes
auto_failback: on
standby:       none in progress
takeovers:     2
releases:      1

GROUP       PREFERRED  HOLDER  STATE
192.0.2.10  n1         n1      running
pgsql       n2         -       failed

GROUP       RESOURCE            STATE    PATH               LAST     TOOK    RESULT   DETAIL
192.0.2.10  IPaddr::192.0.2.10  running  native             start    212 ms  ok       -
192.0.2.10  httpd               running  /etc/init.d/httpd  monitor  35 ms   ok       httpd is running
pgsql       pgsql               failed   /etc/init.d/pgsql  start    60.0 s  timeout  no answer in 60 s

OPERATION  RESULT   COUNT
start      ok       3
start      timeout  1
monitor    ok       40
"""


@pytest.fixture
def node() -> FakeClusterNode:
    """Node n1 of a cluster without Pacemaker, holding its local groups (HOLDING)."""
    return FakeClusterNode(snapshot(), parameters={"pacemaker": "off"}, resources=HOLDING)


def run(node: FakeClusterNode, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[str, str, int]:
    """Run `hbctl ARGV` against `node` in memory: (stdout, stderr, exit status)."""
    args = build_parser().parse_args(list(argv))
    client, _, pump = connect_in_memory(NodeView(node, Clock()))
    out = io.StringIO()
    status = run_pumped(pump, args.handler(client, args, out))
    return out.getvalue(), capsys.readouterr().err, status


@pytest.mark.parametrize(
    ("argv", "asked", "stdout"),
    [
        (["standby"], ("standby", "all"), "Going standby [all].\n"),
        (["standby", "local"], ("standby", "local"), "Going standby [local].\n"),
        (["standby", "foreign"], ("standby", "foreign"), "Going standby [foreign].\n"),
        (["standby", "failback"], ("standby", "failback"), "Going standby [foreign].\n"),
        (["takeover"], ("takeover", "all"), "Taking over [all].\n"),
        (["takeover", "failback"], ("takeover", "failback"), "Taking over [failback].\n"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else None,
)
def test_request_sent(
    node: FakeClusterNode,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    asked: tuple[str, str],
    stdout: str,
) -> None:
    """standby and takeover (default all) hand the set to the node and say what was asked."""
    assert run(node, capsys, *argv) == (stdout, "", 0)
    assert node.requests == [asked]


@pytest.mark.parametrize("command", ["standby", "takeover"])
def test_request_refused(
    node: FakeClusterNode, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    """A refused request prints the node's reason on stderr and exits 1."""
    node.refusal = "no other node is up to take them"
    out, err, status = run(node, capsys, command, "local")
    assert (out, status) == ("", 1)
    assert err == f"hbctl: {command} [local] refused: no other node is up to take them\n"
    assert node.requests == [(command, "local")]


@pytest.mark.parametrize(
    "argv", [["standby", "none"], ["takeover", "ALL"], ["standby", "all", "local"]]
)
def test_bad_set_is_a_usage_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    """An unknown set, or two of them, is a usage error (exit 2) before anything is sent."""
    with pytest.raises(SystemExit) as raised:
        main(argv)
    assert raised.value.code == 2
    assert ": error: " in capsys.readouterr().err.splitlines()[-1]


def test_sets_are_the_protocol_sets() -> None:
    """hbctl offers exactly the sets the daemon accepts."""
    assert resources_command.RESOURCE_SETS == p.RESOURCE_SETS


def test_resources_tables(node: FakeClusterNode, capsys: pytest.CaptureFixture[str]) -> None:
    """`hbctl resources` prints the summary, then groups, resources and operation counts."""
    assert run(node, capsys, "resources") == (TABLES, "", 0)


def test_resources_without_groups(node: FakeClusterNode, capsys: pytest.CaptureFixture[str]) -> None:
    """Without resource groups the summary is followed by one line saying there are none."""
    node.failover = failover(stable=False, standby="asking all")
    out, _, status = run(node, capsys, "resources")
    assert status == 0
    assert out.splitlines()[1:4] == [
        "stable:        no (operations in progress)",
        "auto_failback: on",
        "standby:       asking all",
    ]
    assert out.endswith("\nno resource groups (haresources is empty)\n")


def test_resources_json(node: FakeClusterNode, capsys: pytest.CaptureFixture[str]) -> None:
    """`hbctl resources --json` prints the ResourceStatus object."""
    out, _, status = run(node, capsys, "resources", "--json")
    assert status == 0
    assert json.loads(out) == json.loads(json.dumps(failover_record(HOLDING)))


def test_resource_cells_stay_on_one_line() -> None:
    """Cells show none as `-`, fold whitespace and spell out undecodable bytes."""
    assert resources_command.cell(None) == "-"
    assert resources_command.cell("") == "-"
    assert resources_command.cell("line one\n\tline two ") == "line one line two"
    assert resources_command.cell("caf\udce9") == "caf\\xe9"
    assert resources_command.milliseconds(9_999) == "9999 ms"
    assert resources_command.milliseconds(10_000) == "10.0 s"


@pytest.mark.parametrize(
    ("hold", "human"),
    [("none", False), ("local", False), ("transition", False), ("all", True), ("foreign", True)],
)
def test_rscstatus(
    node: FakeClusterNode, capsys: pytest.CaptureFixture[str], hold: str, human: bool
) -> None:
    """`hbctl rscstatus` prints what the node holds as cl_status does (with -m, its sentence)."""
    node.failover = failover(rsc_hold=hold)
    argv = ["rscstatus", "-m"] if human else ["rscstatus"]
    expected = f"This node is holding {hold} resources.\n" if human else f"{hold}\n"
    assert run(node, capsys, *argv) == (expected, "", 0)


def event_line(kind: str, fields: str) -> str:
    """The text rendering of one event, without its time."""
    event = {"seq": 1, "kind": kind, "time": 1_700_000_000.0, "fields": fields}
    return events_command.render(event, as_json=False).split(" ", 2)[2]


def test_resource_events_render_on_one_line() -> None:
    """Resource events show as `KIND key=value...`: none as `-`, text with spaces quoted."""
    assert event_line(
        "group_state_changed",
        '{"group":"192.0.2.10","old":"running","new":"stopping","holder":null}',
    ) == "group_state_changed group=192.0.2.10 old=running new=stopping holder=-"
    operation = json.dumps(
        {
            "group": "192.0.2.10",
            "resource": "httpd",
            "operation": "start",
            "result": "not running",
            "duration_ms": 1250,
            "path": "/etc/ha.d/resource.d/httpd",
            "detail": "",
        }
    )
    assert event_line("resource_operation", operation) == (
        'resource_operation group=192.0.2.10 resource=httpd operation=start result="not running" '
        'duration_ms=1250 path=/etc/ha.d/resource.d/httpd detail=""'
    )
    assert event_line("holding_changed", '{"old":"none","new":"local"}') == (
        "holding_changed old=none new=local"
    )
    assert event_line("late_heartbeat", '{"node":"n2","interval_ms":700,"critical":true}') == (
        "late_heartbeat node=n2 interval_ms=700 critical=true"
    )
