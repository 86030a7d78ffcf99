"""`twistd heartbeat --version`: hbtwist's own version, before any configuration is read."""

from __future__ import annotations

import pytest

from hbtwist import __version__
from hbtwist.daemon.tap import Options


def test_version_option(capsys: pytest.CaptureFixture[str]) -> None:
    """--version prints hbtwist's version and protocol and exits 0 without loading ha.cf."""
    with pytest.raises(SystemExit) as raised:
        Options().parseOptions(["--config-dir", "/nonexistent", "--version"])
    assert raised.value.code == 0
    assert capsys.readouterr() == (f"hbtwist {__version__} (Heartbeat 3.0.6 protocol)\n", "")
