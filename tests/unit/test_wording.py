"""The log wording of core events: Heartbeat 3.0.6's exact text and level for every event kind."""

from __future__ import annotations

import typing
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from twisted.logger import Logger, LogLevel, formatEvent

from hbtwist.control.wording import log_event, wording
from hbtwist.core import events
from tests.prereq import require

LOCAL = "alpha"
HEARTBEAT_BINARY = Path("/usr/libexec/heartbeat/heartbeat")
"""The Heartbeat 3.0.6 daemon of the Debian package `heartbeat`, whose format strings are read."""


class Case(typing.NamedTuple):
    """An event, Heartbeat's printf format for it with its arguments, and the level it logs at."""

    event: events.Event
    heartbeat_format: str
    arguments: tuple[Any, ...]
    level: LogLevel


CASES: dict[str, Case] = {
    "peer dead": Case(
        events.NodeStatusChanged("beta", "active", "dead", 7),
        "node %s: is dead",
        ("beta",),
        LogLevel.warn,
    ),
    "peer status": Case(
        events.NodeStatusChanged("beta", "init", "active", 7),
        "Status update for node %s: status %s",
        ("beta", "active"),
        LogLevel.info,
    ),
    "local status": Case(
        events.NodeStatusChanged(LOCAL, "up", "active", 3),
        "Local status now set to: '%s'",
        ("active",),
        LogLevel.info,
    ),
    "local status dead": Case(
        events.NodeStatusChanged(LOCAL, "active", "dead", 3),
        "Local status now set to: '%s'",
        ("dead",),
        LogLevel.info,
    ),
    "link dead": Case(
        events.LinkStatusChanged("beta", "eth1", "up", "dead"),
        "Link %s:%s %s.",
        ("beta", "eth1", "dead"),
        LogLevel.info,
    ),
    "link up": Case(
        events.LinkStatusChanged("gamma", "/dev/ttyS0", "dead", "up"),
        "Link %s:%s %s.",
        ("gamma", "/dev/ttyS0", "up"),
        LogLevel.info,
    ),
    "restart": Case(
        events.NodeRestarted("beta", 7, 8),
        "Heartbeat restart on node %s",
        ("beta",),
        LogLevel.info,
    ),
    "late": Case(
        events.LateHeartbeat("beta", 1250, critical=False),
        "Late heartbeat: Node %s: interval %ld ms",
        ("beta", 1250),
        LogLevel.warn,
    ),
    "late beyond deadtime": Case(
        events.LateHeartbeat("beta", 31000, critical=True),
        "Late heartbeat: Node %s: interval %ld ms (> deadtime)",
        ("beta", 31000),
        LogLevel.warn,
    ),
    "partition healed": Case(
        events.PartitionHealed("gamma"),
        "Cluster node %s returning after partition.",
        ("gamma",),
        LogLevel.critical,
    ),
    "comm up": Case(
        events.CommUp(LOCAL),
        "Comm_now_up(): updating status to active",
        (),
        LogLevel.info,
    ),
    "shutdown notice": Case(
        events.ShutdownNotice("beta"),
        "Received shutdown notice from '%s'.",
        ("beta",),
        LogLevel.info,
    ),
    "node reset": Case(
        events.FenceResult("beta", "external/ipmi", "OK", 1),
        "node %s now reset.",
        ("beta",),
        LogLevel.info,
    ),
    "reset failed": Case(
        events.FenceResult("beta", "external/ipmi", "bad", 2),
        "Host %s not reset!",
        ("beta",),
        LogLevel.error,
    ),
    "device cannot reset the host": Case(
        events.FenceResult("beta", "external/ipmi", "badhost", 1),
        "Device %s cannot reset host %s.",
        ("external/ipmi", "beta"),
        LogLevel.error,
    ),
}
"""Every event kind Heartbeat logs, with Heartbeat's own format string (as in its binary)."""

EXTENDED: dict[str, tuple[events.Event, str, LogLevel]] = {
    "messages lost": (
        events.MessagesLost("beta", 5, 9, "sender cannot resend it"),
        "Irretrievably lost packet: node beta seq 5..9 (sender cannot resend it)",
        LogLevel.error,
    ),
    "local stall": (
        events.LocalStall(1800),
        "Local stall: timers ran 1800 ms late; peer timeouts deferred",
        LogLevel.warn,
    ),
    "group state": (
        events.GroupStateChanged("IPaddr2::192.0.2.100/24/eth0", "stopped", "running", LOCAL),
        "Resource group IPaddr2::192.0.2.100/24/eth0: stopped -> running (holder: alpha)",
        LogLevel.info,
    ),
    "operation ok": (
        events.ResourceOperation("web", "apache", "start", "ok", 412, "/etc/init.d/apache", ""),
        "Resource apache start: ok in 412 ms (/etc/init.d/apache)",
        LogLevel.info,
    ),
    "operation failed": (
        events.ResourceOperation("web", "apache", "monitor", "timeout", 20000, "native", "killed"),
        "Resource apache monitor: timeout in 20000 ms (native): killed",
        LogLevel.warn,
    ),
    "holding": (
        events.HoldingChanged("none", "local"),
        "This node now holds local resources (was none).",
        LogLevel.info,
    ),
    "pings reached": (
        events.PingsReached("beta", 2),
        "Node beta reaches 2 ping node(s).",
        LogLevel.info,
    ),
    "pings no longer said": (
        events.PingsReached("beta", None),
        "Node beta no longer says how many ping nodes it reaches.",
        LogLevel.info,
    ),
}
"""Kinds whose text hbtwist extends (a range and a reason) or that Heartbeat does not log."""

LOST_PREFIX = ("%s: node %s seq %ld", ("Irretrievably lost packet", "beta", 5))
"""Heartbeat's line for a lost packet; hbtwist's starts with it and adds the range's end and why."""


def logged(event: events.Event) -> dict[str, Any]:
    """The one log event `log_event` emits for `event`."""
    captured: list[dict[str, Any]] = []
    log_event(Logger(namespace="hbtwist.test", observer=captured.append), event, LOCAL)
    assert len(captured) == 1
    return captured[0]


@pytest.mark.parametrize("name", CASES)
def test_heartbeat_text_and_level(name: str) -> None:
    """Each event Heartbeat logs is logged with Heartbeat's format filled in, at its level."""
    case = CASES[name]
    record = logged(case.event)
    assert formatEvent(record) == case.heartbeat_format % case.arguments
    assert record["log_level"] == case.level
    assert wording(case.event, LOCAL)[0] == case.level


@pytest.mark.parametrize("name", EXTENDED)
def test_extended_text_and_level(name: str) -> None:
    """Lost messages and local stalls have their own exact text and level."""
    event, text, level = EXTENDED[name]
    record = logged(event)
    assert (formatEvent(record), record["log_level"]) == (text, level)


def test_lost_messages_begin_with_heartbeats_line() -> None:
    """The lost-messages line starts as Heartbeat's does for the range's first number."""
    event, text, _ = EXTENDED["messages lost"]
    heartbeat_format, arguments = LOST_PREFIX
    assert formatEvent(logged(event)).startswith(heartbeat_format % arguments + "..")
    assert text.startswith(heartbeat_format % arguments)


def test_every_event_kind_has_its_wording() -> None:
    """Every event kind is covered above, and none falls back to its bare wire name."""
    covered = {type(case.event) for case in CASES.values()}
    covered |= {type(event) for event, _, _ in EXTENDED.values()}
    assert covered == set(typing.get_args(events.Event))
    for event in [case.event for case in CASES.values()] + [e for e, _, _ in EXTENDED.values()]:
        assert formatEvent(logged(event)) != events.event_name(event)


def test_log_record_carries_the_event() -> None:
    """The log record holds the event's wire name as `hb_event` and every field of the event."""
    event = events.LinkStatusChanged("beta", "eth1", "up", "dead")
    record = logged(event)
    assert record["hb_event"] == "link_status_changed"
    assert {key: record[key] for key in asdict(event)} == asdict(event)
    assert record["log_namespace"] == "hbtwist.test"


def test_formats_are_heartbeats_own() -> None:
    """Every format string above, and the lost-packet line, occurs in the Heartbeat 3.0.6 binary."""
    require(HEARTBEAT_BINARY.is_file(), f"needs {HEARTBEAT_BINARY} (Debian package heartbeat)")
    binary = HEARTBEAT_BINARY.read_bytes()
    formats = {case.heartbeat_format for case in CASES.values()}
    formats |= {LOST_PREFIX[0], LOST_PREFIX[1][0]}
    assert sorted(text for text in formats if text.encode() + b"\0" not in binary) == []
