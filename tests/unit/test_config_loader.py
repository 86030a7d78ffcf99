"""load_config as a whole: local node, all problems of all files, summaries, no tracebacks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hbtwist.config import ConfigError, Problem, load_config, summarize
from hbtwist.config.problems import shown

HA_CF = "keepalive 1\ndeadtime 10\nbcast lo\nnode alpha beta\nauto_failback on\n"
AUTHKEYS = "auth 1\n1 sha1 secret\n"


def write(directory: Path, ha_cf: str = HA_CF, authkeys: str = AUTHKEYS, **files: str) -> Path:
    """A configuration directory with the given files; authkeys gets mode 0600."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "ha.cf").write_text(ha_cf)
    keys = directory / "authkeys"
    keys.write_text(authkeys)
    keys.chmod(0o600)
    for name, text in files.items():
        (directory / name).write_text(text)
    return directory


def test_problem_format() -> None:
    """A problem prints as FILE:LINE: message, or FILE: message without a line."""
    assert str(Problem("/etc/ha.d/ha.cf", 12, "unknown directive 'keepalve'")) == (
        "/etc/ha.d/ha.cf:12: unknown directive 'keepalve'"
    )
    problem = Problem("/etc/ha.d/authkeys", None, "file not found")
    assert str(problem) == "/etc/ha.d/authkeys: file not found"


def test_shown_quotes_short_and_printable() -> None:
    """Quoted configuration text: bytes that are not UTF-8 as \\xNN, at most 60 characters."""
    assert shown("keepalve") == "'keepalve'"
    assert shown(b"caf\xe9\x01".decode("utf-8", "surrogateescape")) == "'caf\\xe9\\x01'"
    assert shown("a" * 58) == "'" + "a" * 58 + "'"
    assert shown("a" * 59) == "'" + "a" * 57 + "\u2026'"
    assert len(shown(bytes(range(128, 256)).decode("utf-8", "surrogateescape"))) <= 60


def test_config_error_lists_problems_one_per_line() -> None:
    """str(ConfigError) is its problems, one per line."""
    problems = (Problem("a", 1, "x"), Problem("b", None, "y"))
    error = ConfigError(problems)
    assert error.problems == problems
    assert str(error) == "a:1: x\nb: y"


def test_local_node_from_nodeinfo(tmp_path: Path) -> None:
    """Without local_node, the first line of nodeinfo names this node (lower-cased)."""
    directory = write(tmp_path / "ha.d", nodeinfo="  Beta\nignored\n")
    assert load_config(directory).local_node == "beta"


def test_local_node_from_uname(tmp_path: Path) -> None:
    """Without local_node or nodeinfo, this node is `uname -n`, lower-cased."""
    name = os.uname().nodename.lower()
    directory = write(tmp_path / "ha.d", ha_cf=HA_CF + f"node {name}\n")
    assert load_config(directory).local_node == name


def test_local_node_given_is_lower_cased(tmp_path: Path) -> None:
    """An explicit local_node is lower-cased like the node lines."""
    config = load_config(write(tmp_path / "ha.d"), local_node="ALPHA")
    assert config.local_node == "alpha"


def test_empty_nodeinfo(tmp_path: Path) -> None:
    """An empty nodeinfo is one problem at its first line (the node list is not blamed)."""
    directory = write(tmp_path / "ha.d", nodeinfo="\n")
    with pytest.raises(ConfigError) as raised:
        load_config(directory)
    assert raised.value.problems == (
        Problem(str(directory / "nodeinfo"), 1, "the first line must be this node's name"),
    )


def test_problems_in_file_and_line_order(tmp_path: Path) -> None:
    """Problems come file by file (ha.cf, authkeys, haresources), by line within a file."""
    directory = write(
        tmp_path / "ha.d",
        ha_cf="keepalive 2\ndeadtime 2\nbogus 1\nbcast lo\nnode alpha\nauto_failback on\n",
        authkeys="auth 1\n1 sha256 x\n",
        haresources="gamma httpd\n",
    )
    with pytest.raises(ConfigError) as raised:
        load_config(directory, local_node="alpha")
    assert [(Path(p.path).name, p.line) for p in raised.value.problems] == [
        ("ha.cf", 2),
        ("ha.cf", 3),
        ("authkeys", 2),
        ("haresources", 1),
    ]


def test_missing_directory(tmp_path: Path) -> None:
    """A directory that does not exist gives one problem per mandatory file, naming its path."""
    directory = tmp_path / "absent"
    with pytest.raises(ConfigError) as raised:
        load_config(directory, local_node="alpha")
    assert [str(problem) for problem in raised.value.problems] == [
        f"{directory / 'ha.cf'}: file not found",
        f"{directory / 'authkeys'}: file not found",
    ]


def test_problems_of_all_files_together(tmp_path: Path) -> None:
    """Errors of ha.cf, authkeys and haresources are all reported, file by file."""
    directory = write(
        tmp_path / "ha.d",
        ha_cf=HA_CF + "keepalve 2\n",
        authkeys="1 sha1 secret\nauth 1\n",
        haresources="node9 httpd\n",
    )
    with pytest.raises(ConfigError) as raised:
        load_config(directory, local_node="alpha")
    assert [(Path(p.path).name, p.line) for p in raised.value.problems] == [
        ("ha.cf", 6),
        ("authkeys", 2),
        ("haresources", 1),
    ]
    assert raised.value.warnings == ()


def test_unreadable_path(tmp_path: Path) -> None:
    """A configuration file that is a directory is a problem, not a traceback."""
    directory = write(tmp_path / "ha.d")
    (directory / "haresources").mkdir()
    with pytest.raises(ConfigError) as raised:
        load_config(directory, local_node="alpha")
    assert [str(problem) for problem in raised.value.problems] == [
        f"{directory / 'haresources'}: cannot read: Is a directory"
    ]


def test_line_too_long(tmp_path: Path) -> None:
    """A line longer than Heartbeat's line buffer is refused rather than split."""
    directory = write(tmp_path / "ha.d", ha_cf=HA_CF + "cluster " + "x" * 5200 + "\n")
    with pytest.raises(ConfigError) as raised:
        load_config(directory, local_node="alpha")
    assert [(p.line, p.message) for p in raised.value.problems] == [
        (6, "line too long (5208 bytes, at most 5118)")
    ]


def test_summary(tmp_path: Path) -> None:
    """summarize() names node, nodes, media, timings, auth and groups, and counts warnings."""
    directory = write(
        tmp_path / "ha.d",
        ha_cf=HA_CF + "ucast lo 192.0.2.12\nserial /dev/ttyS0\nnode alpha\n",
        haresources="alpha 192.0.2.10 httpd\n",
    )
    config = load_config(directory, local_node="alpha")
    assert summarize(config).splitlines() == [
        "local node: alpha",
        "nodes: alpha beta",
        "media:",
        "  bcast lo :694",
        "  ucast lo -> 192.0.2.12:694",
        "  serial /dev/ttyS0 @19200",
        "timings: keepalive 1000 ms, warntime 5000 ms, deadtime 10000 ms, initdead 20000 ms",
        "auto_failback: on",
        "auth: sha1 (key 1; 1 key(s) accepted)",
        "resource groups:",
        "  alpha: 192.0.2.10 httpd",
        "warnings: 1",
    ]


def test_config_is_frozen(tmp_path: Path) -> None:
    """The loaded objects cannot be changed."""
    config = load_config(write(tmp_path / "ha.d"), local_node="alpha")
    with pytest.raises(AttributeError):
        config.hacf.keepalive_ms = 5  # type: ignore[misc]
    with pytest.raises(AttributeError):
        config.hacf.log.debug = 1  # type: ignore[misc]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    ha_cf=st.binary(max_size=300),
    authkeys=st.binary(max_size=120),
    haresources=st.binary(max_size=200),
)
def test_any_bytes_give_a_config_or_problems(
    tmp_path: Path, ha_cf: bytes, authkeys: bytes, haresources: bytes
) -> None:
    """Whatever the files hold, load_config returns or raises ConfigError: never another error."""
    directory = tmp_path / "fuzz"
    directory.mkdir(exist_ok=True)
    for name, data in (("ha.cf", ha_cf), ("authkeys", authkeys), ("haresources", haresources)):
        (directory / name).write_bytes(data)
    (directory / "authkeys").chmod(0o600)
    try:
        load_config(directory, local_node="alpha")
    except ConfigError as error:
        assert error.problems


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    lines=st.lists(
        st.sampled_from(
            [
                "node",
                "bcast",
                "ucast",
                "mcast",
                "mcast6",
                "ucast6",
                "serial",
                "keepalive",
                "deadtime",
                "udpport",
                "baud",
                "apiauth",
                "respawn",
                "env",
                "crm",
                "auto_failback",
                "nice_failback",
                "autojoin",
                "initdead",
                "warntime",
                "deadping",
                "#",
                ",",
                "::",
                "alpha",
                "lo",
                "1",
                "0",
                "5",
                "100ms",
                "eth0",
                "239.0.0.1",
                "ff12::1",
                "fe80::1%lo",
                "/dev/ttyS0",
                "uid=a",
                "on",
                "x=y",
                "694",
            ]
        ),
        max_size=40,
    )
)
def test_directive_soup_gives_a_config_or_problems(tmp_path: Path, lines: list[str]) -> None:
    """Random mixes of real directive words never crash the ha.cf reader."""
    text = "\n".join(" ".join(lines[index : index + 4]) for index in range(0, len(lines), 4))
    directory = write(tmp_path / "soup", ha_cf=text + "\n")
    try:
        load_config(directory, local_node="alpha")
    except ConfigError as error:
        assert error.problems
