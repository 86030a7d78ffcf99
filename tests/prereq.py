"""Test prerequisites: a missing one skips the test, except under CI, where it fails it.

A CI machine is expected to provide everything the suite needs (see `.ci/run`); there a missing
prerequisite is a broken machine, not a reason to stay green.
"""

from __future__ import annotations

import os

import pytest


def in_ci() -> bool:
    """Whether this run is a CI run (the `CI` environment variable is set and not empty)."""
    return bool(os.environ.get("CI"))


def require(condition: bool, reason: str) -> None:
    """Go on if `condition` holds; else skip with `reason`, or fail with it under CI."""
    if condition:
        return
    if in_ci():
        pytest.fail(f"prerequisite missing in CI: {reason}", pytrace=False)
    pytest.skip(reason)
