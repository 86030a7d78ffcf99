"""Tests for the `hbctl` command line: `check`, `--help` and `--version`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hbtwist import __version__
from hbtwist.cli.main import main
from hbtwist.config import load_config, summarize


def test_check_valid(config_dir: Path, local_node: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A valid directory exits 0 and prints the configuration summary on stdout."""
    assert main(["check", str(config_dir), "--node", local_node]) == 0
    out, err = capsys.readouterr()
    expected = summarize(load_config(str(config_dir), local_node=local_node))
    assert out == expected + "\n"
    assert "Traceback" not in err


def test_check_warnings_on_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A valid directory's warnings go to stderr, one line each; the summary alone to stdout."""
    directory = tmp_path / "ha.d"
    directory.mkdir()
    (directory / "ha.cf").write_text("bcast lo\nnode alpha\nauto_failback on\n")
    (directory / "authkeys").write_text("auth 1\n1 sha1 secret\n2 crc\n")
    (directory / "authkeys").chmod(0o600)
    assert main(["check", str(directory), "--node", "alpha", "--no-host-check"]) == 0
    out, err = capsys.readouterr()
    assert err.splitlines() == [
        f"hbctl: warning: {directory / 'authkeys'}:3: key 2 uses crc, which authenticates"
        " nothing: every listed key is accepted on incoming packets, so anyone on the network"
        " can inject packets this node accepts; remove the line or use sha1"
    ]
    assert "crc" not in out and out.endswith("warnings: 1\n")


def test_check_invalid(bad_config_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An invalid directory exits 2 and names the offending ha.cf line on stderr."""
    assert main(["check", str(bad_config_dir), "--node", "alpha"]) == 2
    out, err = capsys.readouterr()
    assert re.search(r"ha\.cf:3: ", err)
    assert out == ""


def test_check_host_interfaces(
    foreign_config_dir: Path, local_node: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A medium on an interface this host lacks is a problem, unless --no-host-check is given."""
    assert main(["check", str(foreign_config_dir), "--node", local_node]) == 2
    assert re.search(r"ha\.cf:\d+: .*hbtwistnone0", capsys.readouterr().err)
    args = ["check", str(foreign_config_dir), "--node", local_node, "--no-host-check"]
    assert main(args) == 0


def test_check_missing_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A directory that does not exist exits 2 with a problem line, not a traceback."""
    assert main(["check", str(tmp_path / "absent"), "--node", "alpha"]) == 2
    err = capsys.readouterr().err
    assert "absent" in err
    assert "Traceback" not in err


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    """--help exits 0 and lists the sub-commands."""
    with pytest.raises(SystemExit) as raised:
        main(["--help"])
    assert raised.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: hbctl")
    assert "check" in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    """--version prints the package version."""
    with pytest.raises(SystemExit) as raised:
        main(["--version"])
    assert raised.value.code == 0
    assert capsys.readouterr().out == f"hbctl {__version__}\n"


def test_no_command(capsys: pytest.CaptureFixture[str]) -> None:
    """Without a sub-command hbctl prints its usage and exits 2."""
    with pytest.raises(SystemExit) as raised:
        main([])
    assert raised.value.code == 2
    assert "usage: hbctl" in capsys.readouterr().err
