"""Fixtures of the integration tests: a lab of network namespaces (needs root)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.lab import Lab, cleanup_stale
from tests.integration.threenode import Cluster, start_cluster
from tests.prereq import require

REQUIRED_TOOLS = ("ip", "nft", "socat")
NEEDS_ROOT = "needs root (network namespaces)"


def _unavailable() -> str | None:
    """Why the lab cannot run here, or None."""
    if os.geteuid() != 0:
        return NEEDS_ROOT
    missing = [tool for tool in REQUIRED_TOOLS if shutil.which(tool) is None]
    if missing:
        return f"needs {', '.join(missing)} (Debian packages iproute2, nftables, socat)"
    return None


def require_lab() -> None:
    """Skip the test when the lab cannot run; under CI (`CI` set), fail instead of skipping."""
    reason = _unavailable()
    require(reason is None, str(reason))


@pytest.fixture(scope="session")
def _stale_labs_removed() -> None:
    """Once per session: remove namespaces and serial cables left by crashed earlier runs."""
    require_lab()
    cleanup_stale()


def _scratch_dir() -> Path:
    """A work directory on tmpfs when there is one: daemons must not stall on disk writes."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        return Path(tempfile.mkdtemp(prefix="hbtlab-", dir=shm))
    return Path(tempfile.mkdtemp(prefix="hbtlab-"))


@pytest.fixture
def lab(_stale_labs_removed: None, tmp_path: Path) -> Iterator[Lab]:
    """A fresh lab; torn down after the test, its files kept in the test's tmp_path/lab."""
    workdir = _scratch_dir()
    try:
        with Lab(workdir) as the_lab:
            yield the_lab
    finally:
        shutil.copytree(workdir, tmp_path / "lab", symlinks=True, dirs_exist_ok=True)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def cluster(lab: Lab) -> Cluster:
    """Three running nodes n1, n2, n3 (ucast on LAN A, bcast on LAN B, serial n1-n2), all up."""
    return start_cluster(lab)


MEASUREMENTS: list[str] = []
"""Figures the tests measured, shown at the end of the run (pytest_terminal_summary)."""


@pytest.fixture
def report(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """`report(text)`: print a measured figure and repeat it in the run's closing summary."""

    def _report(text: str) -> None:
        line = f"{request.node.name}: {text}"
        print(line)
        MEASUREMENTS.append(line)

    return _report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Repeat the measured figures at the end of the run, where they are seen."""
    if MEASUREMENTS:
        terminalreporter.write_sep("-", "hbtwist lab measurements")
        for line in MEASUREMENTS:
            terminalreporter.write_line(line)
