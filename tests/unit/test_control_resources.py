"""The resource commands of the control protocol in memory: ResourceStatus, Resources, Standby,
Takeover, and the resource events, against a fake node whose snapshots the tests set."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import pytest
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.logger import LogLevel, capturedLogs, formatEvent
from twisted.protocols import amp

from hbtwist.control import protocol as p
from hbtwist.control.view import NodeView, failover_record
from hbtwist.core import events
from hbtwist.core.snapshot import FailoverSnapshot
from tests.doubles.control import connect_in_memory, run_pumped
from tests.doubles.node import HOLDING, FakeClusterNode, failover, group, resource, snapshot


def served(resources: FailoverSnapshot = HOLDING) -> tuple[FakeClusterNode, NodeView]:
    """A fake node n1 holding `resources`, and the control view of it."""
    node = FakeClusterNode(snapshot(), resources=resources)
    return node, NodeView(node, Clock())


def test_resource_status_carries_the_snapshot() -> None:
    """ResourceStatus answers the resource snapshot as JSON: every field, groups, operations."""
    _, view = served()
    client, _, pump = connect_in_memory(view)
    status = run_pumped(pump, client.resource_status())
    assert status == json.loads(json.dumps(failover_record(HOLDING)))
    assert (status["rsc_hold"], status["stable"], status["standby"]) == ("local", True, None)
    assert (status["takeovers"], status["releases"]) == (2, 1)
    assert status["operations"][1] == {"operation": "start", "result": "timeout", "count": 1}
    web, db = status["groups"]
    assert (web["key"], web["preferred_node"], web["holder"], web["state"]) == (
        "192.0.2.10",
        "n1",
        "n1",
        "running",
    )
    assert web["resources"][1] == {
        "text": "httpd",
        "state": "running",
        "path": "/etc/init.d/httpd",
        "last_operation": "monitor",
        "last_result": "ok",
        "last_duration_ms": 35,
        "last_detail": "httpd is running",
    }
    assert db["holder"] is None and db["resources"][0]["last_result"] == "timeout"


def test_resource_status_of_a_node_without_groups() -> None:
    """A node without resource groups answers an empty list and zero counts, never nothing."""
    _, view = served(failover())
    client, _, pump = connect_in_memory(view)
    status = run_pumped(pump, client.resource_status())
    assert status["groups"] == [] and status["operations"] == []
    assert (status["rsc_hold"], status["takeovers"], status["releases"]) == ("none", 0, 0)


def test_resource_status_beyond_the_amp_value_cap() -> None:
    """A snapshot whose JSON exceeds AMP's 64 KiB per value still arrives whole, in pieces."""
    many = [
        group(f"group{index:03d}", resources=[resource(f"r{index}", detail="é" * 300)])
        for index in range(300)
    ]
    _, view = served(failover(many))
    assert len(view.resource_status().encode("utf-8")) > 2 * amp.MAX_VALUE_LENGTH
    client, _, pump = connect_in_memory(view)
    status = run_pumped(pump, client.resource_status())
    assert [each["key"] for each in status["groups"]] == [f"group{index:03d}" for index in range(300)]
    assert status["groups"][-1]["resources"][0]["last_detail"] == "é" * 300


@pytest.mark.parametrize("hold", ["none", "local", "foreign", "all", "transition"])
def test_getrsc_follows_the_resource_manager(hold: str) -> None:
    """Resources (Heartbeat's getrsc) answers the resource manager's rsc_hold."""
    _, view = served(failover(rsc_hold=hold))
    client, _, pump = connect_in_memory(view)
    assert run_pumped(pump, client.resources()) == hold


@pytest.mark.parametrize("which", p.RESOURCE_SETS)
def test_requests_reach_the_node(which: str) -> None:
    """Standby and Takeover of every set are handed to the node as asked and answered accepted."""
    node, view = served()
    client, _, pump = connect_in_memory(view)
    with capturedLogs() as logged:
        assert run_pumped(pump, client.standby(which)) is None
        assert run_pumped(pump, client.takeover(which)) is None
    assert node.requests == [("standby", which), ("takeover", which)]
    assert [event["log_level"] for event in logged] == [LogLevel.info, LogLevel.info]
    assert formatEvent(logged[0]).endswith(f"asked for standby [{which}]")


def test_refused_request_answers_the_reason() -> None:
    """A request the node refuses is answered with its reason, and the refusal is logged."""
    node, view = served()
    node.refusal = "other side is in flux"
    client, _, pump = connect_in_memory(view)
    answer = run_pumped(pump, client.call(p.Takeover, which="foreign"))
    assert answer == {"accepted": False, "reason": "other side is in flux"}
    with capturedLogs() as logged:
        assert run_pumped(pump, client.standby("local")) == "other side is in flux"
    assert node.requests == [("takeover", "foreign"), ("standby", "local")]
    assert logged[0]["log_level"] is LogLevel.warn
    assert formatEvent(logged[0]).endswith("asked for standby [local]: refused: other side is in flux")


@pytest.mark.parametrize("which", ["ALL", "none", "", "local foreign", "transition"])
def test_unknown_resource_set_is_a_bad_request(which: str) -> None:
    """A set other than all, local, foreign or failback is BAD_REQUEST; the node is not asked."""
    node, view = served()
    client, _, pump = connect_in_memory(view)
    for command in (p.Standby, p.Takeover):
        with pytest.raises(p.BadRequest) as refused:
            run_pumped(pump, client.call(command, which=which))
        assert str(refused.value) == (
            f"unknown resource set {which!r}: give all, local, foreign, failback"
        )
    assert node.requests == []


RESOURCE_EVENTS: list[events.Event] = [
    events.GroupStateChanged("192.0.2.10", "stopped", "starting", None),
    events.GroupStateChanged("192.0.2.10", "starting", "running", "n1"),
    events.ResourceOperation(
        "192.0.2.10", "httpd", "start", "failed", 1250, "/etc/ha.d/resource.d/httpd", "exit 1"
    ),
    events.HoldingChanged("none", "local"),
]


def test_resource_events_reach_subscribers() -> None:
    """The resource event kinds are streamed with their wire names and every field (None too)."""
    node, view = served()
    client, _, pump = connect_in_memory(view)
    received: list[dict[str, Any]] = []
    Deferred.fromCoroutine(client.subscribe(received.append))
    pump.flush()
    for event in RESOURCE_EVENTS:
        node.emit(event)
    pump.flush()
    assert [event["kind"] for event in received] == [
        "group_state_changed",
        "group_state_changed",
        "resource_operation",
        "holding_changed",
    ]
    assert [json.loads(event["fields"]) for event in received] == [
        asdict(event) for event in RESOURCE_EVENTS
    ]
    assert json.loads(received[0]["fields"])["holder"] is None
    client.close()
    pump.flush()
