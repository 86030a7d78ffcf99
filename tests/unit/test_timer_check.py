"""The project-wide check that fails a test which leaves delayed calls behind (tests/conftest.py)."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SAMPLE = """\
import pytest
from twisted.internet import task
from twisted.internet.testing import MemoryReactorClock


def test_clock_left_pending():
    task.Clock().callLater(1, print)


def test_memory_reactor_left_pending():
    MemoryReactorClock().callLater(1, print)


def test_global_reactor_left_pending():
    from twisted.internet import reactor

    reactor.callLater(1, print)


def test_next_test_starts_clean():
    from twisted.internet import reactor

    assert reactor.getDelayedCalls() == []


def test_cancelled_and_run_calls_are_fine():
    clock = task.Clock()
    clock.callLater(1, print).cancel()
    clock.callLater(1, print)
    clock.advance(1)


@pytest.mark.leaves_timers
def test_opted_out():
    task.Clock().callLater(1, print)
"""


def test_pending_timers_fail_the_test(tmp_path: Path) -> None:
    """Calls left on a Clock, a MemoryReactorClock or the reactor fail their test at teardown
    (the reactor's are cancelled for the next test); run or cancelled calls and tests marked
    leaves_timers pass."""
    sample = tmp_path / "test_sample.py"
    sample.write_text(SAMPLE)
    report = tmp_path / "report.xml"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-c", str(ROOT / "setup.cfg"), "-p", "tests.conftest"]
        + ["-p", "no:cacheprovider", f"--junitxml={report}", str(sample)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    outcomes = {}
    for case in ElementTree.parse(report).iter("testcase"):
        errors = case.findall("error")
        outcomes[case.get("name")] = errors[0].get("message", "") if errors else "passed"
    assert run.returncode == 1, run.stdout
    for kind in ("clock", "memory_reactor", "global_reactor"):
        name = f"test_{kind}_left_pending"
        assert "1 delayed call(s) left pending" in outcomes.pop(name)
    assert outcomes == {
        "test_next_test_starts_clean": "passed",
        "test_cancelled_and_run_calls_are_fine": "passed",
        "test_opted_out": "passed",
    }
