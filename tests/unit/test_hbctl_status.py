"""`hbctl status`, `nodes`, `links`, `version` and `events` against an in-memory daemon."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from twisted.internet.defer import Deferred

from hbtwist import __version__
from hbtwist.cli import events as events_command
from hbtwist.cli.main import build_parser
from hbtwist.cli.status import ago, columns, duration
from hbtwist.config import load_config
from hbtwist.control.view import NodeView
from tests.conftest import write_config
from tests.doubles.control import FakeNode, connect_in_memory, run_pumped
from tests.simnet import SimNet

HA_CF = """\
keepalive 100ms
deadtime 500ms
initdead 1000ms
udpport 17694
ucast lo 127.0.0.1
node alpha beta
"""


@pytest.fixture
def cluster(tmp_path: Path) -> tuple[SimNet, FakeNode, NodeView]:
    """Node alpha of a running two-node cluster, its events fanned out to subscribers."""
    config = load_config(
        write_config(tmp_path / "ha.d", ha_cf=HA_CF, haresources=""),
        local_node="alpha",
    )
    net = SimNet(["alpha", "beta"])
    node = FakeNode(net.nodes["alpha"], config)
    net.start()
    net.run(6.0)
    return net, node, NodeView(node, net.clock)


def run(view: NodeView, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[str, str, int]:
    """Run `hbctl ARGV` against `view` in memory: (stdout, stderr, exit status)."""
    args = build_parser().parse_args(list(argv))
    client, _, pump = connect_in_memory(view)
    out = io.StringIO()
    status = run_pumped(pump, args.handler(client, args, out))
    return out.getvalue(), capsys.readouterr().err, status


def test_status(cluster: tuple[SimNet, FakeNode, NodeView], capsys: pytest.CaptureFixture[str]) -> None:
    """`hbctl status` prints one `key: value` line per fact about this node."""
    out, err, status = run(cluster[2], capsys, "status")
    assert (err, status) == ("", 0)
    lines = out.splitlines()
    assert lines[:3] == ["node:       alpha", "status:     active", "generation: 100"]
    assert "comm up:    yes" in lines and "uptime:     0s" in lines
    assert "deadtime:   500 ms" in lines


def test_status_json(
    cluster: tuple[SimNet, FakeNode, NodeView], capsys: pytest.CaptureFixture[str]
) -> None:
    """`hbctl status --json` prints the LocalStatus fields as a JSON object."""
    out, _, status = run(cluster[2], capsys, "status", "--json")
    record = json.loads(out)
    assert status == 0 and record["node"] == "alpha" and record["comm_up"] is True


def test_nodes_table(
    cluster: tuple[SimNet, FakeNode, NodeView], capsys: pytest.CaptureFixture[str]
) -> None:
    """`hbctl nodes` prints a table with a header and one row per node."""
    out, _, status = run(cluster[2], capsys, "nodes")
    lines = out.splitlines()
    assert status == 0
    assert lines[0] == ("NODE   TYPE    STATUS  GENERATION  LAST HEARTBEAT  HEARTBEATS  LATE  DEADTIME")
    assert lines[1].split()[:5] == ["alpha", "normal", "active", "100", "-"]
    beta = lines[2].split()
    assert beta[:4] == ["beta", "normal", "active", "100"] and beta[5] == "ago"
    assert beta[-2:] == ["500", "ms"]


def test_nodes_json_and_unknown(
    cluster: tuple[SimNet, FakeNode, NodeView], capsys: pytest.CaptureFixture[str]
) -> None:
    """`hbctl nodes --json NODE` gives that node; an unknown name is one line and exit 1."""
    out, _, status = run(cluster[2], capsys, "nodes", "--json", "beta")
    assert status == 0 and [node["name"] for node in json.loads(out)] == ["beta"]
    out, err, status = run(cluster[2], capsys, "nodes", "delta")
    assert (out, err, status) == ("", "hbctl: no such node: delta\n", 1)


def test_links(cluster: tuple[SimNet, FakeNode, NodeView], capsys: pytest.CaptureFixture[str]) -> None:
    """`hbctl links NODE` lists that node's links; without NODE every node's."""
    out, _, status = run(cluster[2], capsys, "links", "beta")
    lines = out.splitlines()
    assert status == 0 and lines[0].split() == [
        "NODE",
        "LINK",
        "STATUS",
        "LAST",
        "HEARD",
        "HEARD",
        "TRANSITIONS",
    ]
    assert [line.split()[:3] for line in lines[1:]] == [["beta", "eth0", "up"], ["beta", "eth1", "up"]]
    out, _, _ = run(cluster[2], capsys, "links", "--json")
    assert [(link["node"], link["link"]) for link in json.loads(out)] == [
        ("alpha", "eth0"),
        ("alpha", "eth1"),
        ("beta", "eth0"),
        ("beta", "eth1"),
    ]
    out, err, status = run(cluster[2], capsys, "links", "delta")
    assert (out, err, status) == ("", "hbctl: no such node: delta\n", 1)


def test_version(cluster: tuple[SimNet, FakeNode, NodeView], capsys: pytest.CaptureFixture[str]) -> None:
    """`hbctl version` prints hbctl's, the daemon's and the protocol's versions."""
    out, _, status = run(cluster[2], capsys, "version")
    assert status == 0
    assert out == (
        f"hbctl {__version__}\n"
        f"daemon hbtwist {__version__} (Heartbeat 3.0.6 compatible)\n"
        "control protocol 1\n"
    )
    out, _, _ = run(cluster[2], capsys, "version", "--json")
    assert json.loads(out)["protocol"] == 1


def test_events_count(
    cluster: tuple[SimNet, FakeNode, NodeView], capsys: pytest.CaptureFixture[str]
) -> None:
    """`hbctl events --count 2` prints two lines as links die, then closes and exits 0."""
    net, node, view = cluster
    args = build_parser().parse_args(["events", "--count", "2"])
    client, _, pump = connect_in_memory(view)
    out = io.StringIO()
    done = Deferred.fromCoroutine(args.handler(client, args, out))
    outcome: list[Any] = []
    done.addBoth(outcome.append)
    pump.flush()
    net.cut("beta", "eth0")
    net.cut("beta", "eth1")
    for _ in range(200):
        net.run(0.005)
        pump.flush()
    assert outcome == [0]
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert " link_status_changed node=beta link=eth" in lines[0]
    assert lines[0].endswith(" old=up new=dead")
    assert " node=beta " in lines[1] and "new=dead" in lines[1]
    assert node.subscribers == []


def test_events_stream_closed_by_daemon(
    cluster: tuple[SimNet, FakeNode, NodeView], capsys: pytest.CaptureFixture[str]
) -> None:
    """When the daemon closes the stream, `hbctl events` says so in one line and exits 1."""
    _, _, view = cluster
    args = build_parser().parse_args(["events"])
    client, server, pump = connect_in_memory(view)
    done = Deferred.fromCoroutine(args.handler(client, args, io.StringIO()))
    outcome: list[Any] = []
    done.addBoth(outcome.append)
    pump.flush()
    server.transport.loseConnection()  # type: ignore[union-attr]
    pump.flush()
    assert outcome == [1]
    assert capsys.readouterr().err == "hbctl: memory: the daemon closed the event stream\n"


def test_event_rendering() -> None:
    """An event is one `TIME KIND key=value...` line, or one JSON object with --json."""
    event = {
        "seq": 3,
        "kind": "link_status_changed",
        "time": 1_700_000_000.25,
        "fields": '{"node":"beta","link":"eth0","old":"up","new":"dead"}',
    }
    line = events_command.render(event, as_json=False)
    assert line.endswith(".250 link_status_changed node=beta link=eth0 old=up new=dead")
    assert json.loads(events_command.render(event, as_json=True)) == {
        "seq": 3,
        "time": 1_700_000_000.25,
        "kind": "link_status_changed",
        "node": "beta",
        "link": "eth0",
        "old": "up",
        "new": "dead",
    }


def test_formatting_helpers() -> None:
    """Durations, ages and tables are formatted compactly."""
    assert duration(59.9) == "59s" and duration(3725) == "1h02m05s"
    assert duration(90061) == "1d01h01m01s" and duration(61) == "1m01s"
    assert ago(None) == "-" and ago(0.5) == "0.50s ago" and ago(61) == "1m01s ago"
    assert columns(["A", "BB"], [["xyz", "1"]]) == "A    BB\nxyz  1\n"


def test_control_address_before_or_after_the_command() -> None:
    """`--control` may come before the sub-command or after it; after wins, default last."""
    from hbtwist.cli.main import build_parser
    from hbtwist.cli.remote import DEFAULT_CONTROL, control_target

    parser = build_parser()
    assert control_target(parser.parse_args(["--control", "unix:/a", "nodes"])) == "unix:/a"
    assert control_target(parser.parse_args(["nodes", "--control", "unix:/b"])) == "unix:/b"
    both = parser.parse_args(["--control", "unix:/a", "nodes", "--control", "unix:/b"])
    assert control_target(both) == "unix:/b"
    assert control_target(parser.parse_args(["nodes"])) == DEFAULT_CONTROL
