"""Shared fixtures: configuration directories written into a test's tmp_path, and the check
that no test leaves timers behind."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from twisted.internet import task
from twisted.internet.interfaces import IDelayedCall

LOCAL_NODE = "alpha"

VALID_HA_CF = """\
# a two-node test cluster heartbeating over the loopback interface
udpport 17694
keepalive 1
deadtime 10
ucast lo 127.0.0.1
node alpha beta
auto_failback on
"""

THREE_NODE_HA_CF = """\
keepalive 100ms
deadtime 500ms
warntime 250ms
initdead 1000ms
udpport 17694
ucast lo 127.0.0.1
node alpha beta gamma
"""
"""A three-node cluster configuration for control-plane tests (the local node is `alpha`)."""

VALID_AUTHKEYS = """\
auth 1
1 sha1 test-secret
"""

VALID_HARESOURCES = """\
alpha IPaddr::192.0.2.10/24/lo
"""

BAD_HA_CF = """\
udpport 694
keepalive 1
no_such_directive yes
bcast lo
node alpha beta
"""


def write_config(
    directory: Path,
    ha_cf: str = VALID_HA_CF,
    authkeys: str = VALID_AUTHKEYS,
    haresources: str = VALID_HARESOURCES,
) -> Path:
    """Write ha.cf, authkeys (mode 0600) and haresources into `directory` and return it."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "ha.cf").write_text(ha_cf)
    keys = directory / "authkeys"
    keys.write_text(authkeys)
    keys.chmod(0o600)
    (directory / "haresources").write_text(haresources)
    return directory


@pytest.fixture
def local_node() -> str:
    """The name of the node the valid configuration is checked as."""
    return LOCAL_NODE


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """A valid configuration directory for node `alpha` of a two-node cluster."""
    return write_config(tmp_path / "ha.d")


@pytest.fixture
def foreign_config_dir(tmp_path: Path) -> Path:
    """A valid configuration directory whose ucast interface does not exist on this machine."""
    ha_cf = VALID_HA_CF.replace("ucast lo ", "ucast hbtwistnone0 ")
    return write_config(tmp_path / "foreign.d", ha_cf=ha_cf)


@pytest.fixture
def bad_config_dir(tmp_path: Path) -> Path:
    """A configuration directory whose ha.cf has an illegal directive on line 3."""
    return write_config(tmp_path / "bad.d", ha_cf=BAD_HA_CF)


def _reactor_calls() -> list[IDelayedCall]:
    """The global reactor's pending delayed calls; none if nothing has imported the reactor."""
    reactor = sys.modules.get("twisted.internet.reactor")
    if reactor is None:
        return []
    calls: list[IDelayedCall] = reactor.getDelayedCalls()
    return calls


@pytest.fixture(autouse=True)
def _no_timers_left_behind(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Fail a test that leaves delayed calls pending on the global reactor or on a `task.Clock`
    (or a subclass, e.g. `MemoryReactorClock`) made during it; a pending timer is work the code
    under test would still do after the test believed it finished. A test that means to leave
    them opts out with `@pytest.mark.leaves_timers`."""
    clocks: list[task.Clock] = []
    make_clock = task.Clock.__init__

    def register(clock: task.Clock, *args: Any, **kwargs: Any) -> None:
        make_clock(clock, *args, **kwargs)
        clocks.append(clock)

    monkeypatch.setattr(task.Clock, "__init__", register)
    earlier = _reactor_calls()
    yield
    if request.node.get_closest_marker("leaves_timers") is not None:
        return
    leaked = [call for call in _reactor_calls() if all(call is not old for old in earlier)]
    for call in leaked:  # the next test must start with a clean reactor
        call.cancel()
    pending = [f"the reactor: {call}" for call in leaked]
    for number, clock in enumerate(clocks, start=1):
        pending += [f"{type(clock).__name__} #{number}: {call}" for call in clock.getDelayedCalls()]
    if pending:
        pytest.fail(
            f"{len(pending)} delayed call(s) left pending (cancel them, or mark the test "
            "leaves_timers):\n  " + "\n  ".join(pending),
            pytrace=False,
        )


@pytest.fixture(autouse=True)
def _test_process_keeps_its_scheduling(monkeypatch: pytest.MonkeyPatch) -> None:
    """A node service started inside the test process does not switch the whole test run to a
    real-time priority (`realtime on`, ha.cf's default); daemons started as processes still do."""
    monkeypatch.setattr("hbtwist.daemon.node.enter_realtime", lambda enabled, priority: False)


@pytest.fixture(autouse=True)
def _test_process_keeps_its_collector() -> Iterator[None]:
    """A node service started inside the test process freezes what exists then (as a daemon does
    at start); the test run's objects are given back to the collector afterwards."""
    yield
    gc.unfreeze()
