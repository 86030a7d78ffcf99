"""ha.cf's `stonith` and `stonith_host`: the device this node uses, and the problems they give as
FILE:LINE: problem (checked against a stand-in for cluster-glue's `stonith -L`, and once against
the real command)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hbtwist.cli.main import main
from hbtwist.config import ConfigError, HaCf, load_config
from hbtwist.config.checks import STONITH_PROGRAM
from hbtwist.config.hacf import parse_hacf
from hbtwist.config.model import StonithDevice
from hbtwist.config.problems import ProblemLog
from hbtwist.config.source import read_source
from hbtwist.daemon.startup import INVALID_EXIT_STATUS, load_or_exit
from tests.prereq import require
from tests.unit.test_config_debian_sample import SAMPLE_LINES, line_of

BASE = "bcast lo\nnode alpha beta\nauto_failback on\n"
"""Three lines before the STONITH lines of each test: those start at line 4."""
TYPES = ("baytech", "external/ipmi", "null")


def fake_stonith(tmp_path: Path, types: tuple[str, ...] = TYPES) -> str:
    """A stand-in for `stonith`: `-L` lists `types`, one per line (as cluster-glue's does)."""
    program = tmp_path / "stonith"
    program.write_text("#!/bin/sh\n[ \"$1\" = -L ] && printf '%s\\n' " + " ".join(types) + "\n")
    program.chmod(0o755)
    return str(program)


def parse(
    tmp_path: Path, text: str, program: str, node: str | None = "alpha"
) -> tuple[HaCf, list[tuple[int | None, str]], list[tuple[int | None, str]]]:
    """ha.cf `text` read as `node` with `program` as the stonith command: the result, and the
    (line, message) of its errors and of its warnings."""
    path = tmp_path / "ha.cf"
    path.write_text(text)
    problems = ProblemLog()
    log = problems.for_file(str(path))
    source = read_source(str(path), log)
    assert source is not None
    hacf = parse_hacf(source, log, node, stonith_program=program)
    errors = [(problem.line, problem.message) for problem in problems.errors]
    warnings = [(problem.line, problem.message) for problem in problems.warnings]
    return hacf, errors, warnings


def test_stonith_host_for_every_node(tmp_path: Path) -> None:
    """`stonith_host * <type> <params...>` gives this node the device, its parameters as written."""
    program = fake_stonith(tmp_path)
    hacf, errors, warnings = parse(tmp_path, BASE + "stonith_host * null alpha  beta\n", program)
    assert errors == [] and warnings == []
    assert hacf.stonith == StonithDevice("null", "alpha  beta", None, (str(tmp_path / "ha.cf"), 4))


def test_stonith_with_a_configuration_file(tmp_path: Path) -> None:
    """`stonith <type> <file>`: the rest of the line is the file the device reads."""
    program = fake_stonith(tmp_path)
    config = tmp_path / "stonith.baytech"
    config.write_text("10.0.0.3 mylogin mysecretpassword\n")
    hacf, errors, _ = parse(tmp_path, BASE + f"stonith baytech {config}\n", program)
    assert errors == []
    assert hacf.stonith is not None
    assert (hacf.stonith.type, hacf.stonith.config_file, hacf.stonith.parameters) == (
        "baytech",
        str(config),
        None,
    )


def test_stonith_host_for_another_node_does_not_apply(tmp_path: Path) -> None:
    """A `stonith_host` line for another node is that node's device, not this one's; the node
    name is case-folded as node names are."""
    program = fake_stonith(tmp_path)
    hacf, errors, warnings = parse(tmp_path, BASE + "stonith_host BETA null alpha\n", program)
    assert (hacf.stonith, errors, warnings) == (None, [], [])
    hacf, _, _ = parse(tmp_path, BASE + "stonith_host ALPHA null beta\n", program)
    assert hacf.stonith is not None and hacf.stonith.parameters == "beta"


def test_stonith_host_for_an_unknown_host_is_warned_about(tmp_path: Path) -> None:
    """A `stonith_host` line for a host that is not a node is ignored with a warning."""
    program = fake_stonith(tmp_path)
    hacf, errors, warnings = parse(tmp_path, BASE + "stonith_host gamma null alpha\n", program)
    assert (hacf.stonith, errors) == (None, [])
    assert warnings == [(4, "stonith_host: 'gamma' is not a node; the line is ignored")]


def test_last_device_for_this_node_counts(tmp_path: Path) -> None:
    """Of several lines for this node the last counts, as in Heartbeat, with a warning."""
    program = fake_stonith(tmp_path)
    text = (
        BASE
        + "stonith_host * null alpha\nstonith_host beta null x\nstonith_host alpha external/ipmi p\n"
    )
    hacf, errors, warnings = parse(tmp_path, text, program)
    assert errors == []
    assert hacf.stonith is not None and hacf.stonith.type == "external/ipmi"
    assert warnings == [
        (
            6,
            "stonith_host: a STONITH device is given again for this node (earlier on line 4);"
            " the last one counts",
        )
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("stonith null", "stonith: expected a device type and its configuration file"),
        ("stonith_host * null", "stonith_host: expected a host (or *), a device type and its"),
        ("stonith_host *", "stonith_host: expected a host (or *), a device type and its"),
        ("stonith_host", "stonith_host: missing value"),
    ],
)
def test_malformed_lines(tmp_path: Path, line: str, message: str) -> None:
    """A line without its device type, file or parameters is an error at its line."""
    hacf, errors, _ = parse(tmp_path, BASE + line + "\n", fake_stonith(tmp_path))
    assert [number for number, _ in errors] == [4]
    assert errors[0][1].startswith(message)
    assert hacf.stonith is None


def test_missing_stonith_command(tmp_path: Path) -> None:
    """Without cluster-glue's `stonith` command a configured device is refused."""
    missing = str(tmp_path / "no-such-stonith")
    _, errors, _ = parse(tmp_path, BASE + "stonith_host * null alpha\n", missing)
    assert errors == [
        (4, f"stonith_host: the stonith command {missing} is missing (Debian package cluster-glue)")
    ]


def test_unknown_device_type(tmp_path: Path) -> None:
    """A type `stonith -L` does not list is refused."""
    program = fake_stonith(tmp_path)
    _, errors, _ = parse(tmp_path, BASE + "stonith_host * externel/ipmi x\n", program)
    assert errors == [
        (
            4,
            f"stonith_host: unknown STONITH device type 'externel/ipmi' ({program} -L lists"
            " the installed types)",
        )
    ]


def test_unreadable_configuration_file(tmp_path: Path) -> None:
    """`stonith <type> <file>` with a file that is not there is refused."""
    program = fake_stonith(tmp_path)
    _, errors, _ = parse(tmp_path, BASE + "stonith baytech /nonexistent/stonith.cfg\n", program)
    assert errors == [
        (4, "stonith: cannot read the STONITH configuration file '/nonexistent/stonith.cfg'")
    ]


def test_no_check_without_a_device_for_this_node(tmp_path: Path) -> None:
    """Lines for other nodes alone need no stonith command on this one."""
    missing = str(tmp_path / "no-such-stonith")
    hacf, errors, _ = parse(tmp_path, BASE + "stonith_host beta null alpha\n", missing)
    assert (hacf.stonith, errors) == (None, [])


def test_debian_sample_lines(tmp_path: Path) -> None:
    """The Debian sample's two STONITH lines both apply (`stonith_host *`): its last one counts."""
    program = fake_stonith(tmp_path)
    kept = ("stonith", "node", "bcast")
    sample = "".join(f"{text}\n" if text.startswith(kept) else f"#{text}\n" for text in SAMPLE_LINES)
    hacf, errors, warnings = parse(tmp_path, sample, program, node="ken3")
    assert errors == []
    assert hacf.stonith == StonithDevice(
        "baytech", "10.0.0.3 mylogin mysecretpassword", None, (str(tmp_path / "ha.cf"), 57)
    )
    assert (line_of("stonith_host *"), line_of("stonith baytech")) == (57, 54)
    again = "a STONITH device is given again for this node (earlier on line 54); the last one counts"
    assert (57, f"stonith_host: {again}") in warnings


def write(directory: Path, ha_cf: str) -> Path:
    """A configuration directory with `ha_cf` and a valid authkeys."""
    directory.mkdir()
    (directory / "ha.cf").write_text(ha_cf)
    (directory / "authkeys").write_text("auth 1\n1 sha1 secret\n")
    (directory / "authkeys").chmod(0o600)
    return directory


def needs_cluster_glue() -> None:
    """Skip (fail under CI) without cluster-glue's `stonith` command."""
    require(
        os.access(STONITH_PROGRAM, os.X_OK), f"needs {STONITH_PROGRAM} (Debian package cluster-glue)"
    )


def test_real_stonith_command_knows_null(tmp_path: Path) -> None:
    """Against the installed cluster-glue, `stonith_host * null ...` loads."""
    needs_cluster_glue()
    config = load_config(
        write(tmp_path / "ha.d", BASE + "stonith_host * null alpha beta\n"), local_node="alpha"
    )
    assert config.hacf.stonith == StonithDevice(
        "null", "alpha beta", None, (str(tmp_path / "ha.d" / "ha.cf"), 4)
    )


def test_hbctl_check_and_the_daemon_refuse_an_unknown_type(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`hbctl check` and the daemon's start-up refuse an unknown device type: one FILE:LINE line,
    status 2, no traceback."""
    needs_cluster_glue()
    directory = write(tmp_path / "ha.d", BASE + "stonith_host * no-such-device x\n")
    expected = (
        f"{directory / 'ha.cf'}:4: stonith_host: unknown STONITH device type 'no-such-device'"
        f" ({STONITH_PROGRAM} -L lists the installed types)"
    )
    assert main(["check", str(directory), "--node", "alpha", "--no-host-check"]) == 2
    _, err = capsys.readouterr()
    assert err.splitlines() == [expected]
    with pytest.raises(SystemExit) as exited:
        load_or_exit(str(directory), "alpha")
    assert exited.value.code == INVALID_EXIT_STATUS
    _, err = capsys.readouterr()
    assert err.splitlines() == [expected, "hbtwist: configuration invalid, not starting"]
    with pytest.raises(ConfigError):
        load_config(directory, local_node="alpha")
