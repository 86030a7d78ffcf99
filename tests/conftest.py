"""Shared fixtures: configuration directories written into a test's tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

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
