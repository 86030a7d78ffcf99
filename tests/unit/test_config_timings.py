"""ha.cf timers: time syntax, Heartbeat's defaults and its keepalive/deadtime/initdead rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from hbtwist.config import ConfigError, HaCf, load_config, parse_duration_ms

HEAD = "bcast lo\nnode alpha\nauto_failback on\n"


def load(tmp_path: Path, timers: str) -> tuple[HaCf, list[tuple[int | None, str]]]:
    """The HaCf of HEAD + `timers`, and the (line, message) of its warnings."""
    directory = tmp_path / "ha.d"
    directory.mkdir(exist_ok=True)
    (directory / "ha.cf").write_text(HEAD + timers)
    keys = directory / "authkeys"
    keys.write_text("auth 1\n1 sha1 secret\n")
    keys.chmod(0o600)
    config = load_config(directory, local_node="alpha")
    return config.hacf, [(warning.line, warning.message) for warning in config.warnings]


def errors(tmp_path: Path, timers: str) -> list[tuple[int | None, str]]:
    """The (line, message) of the errors of HEAD + `timers`."""
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, timers)
    return [(problem.line, problem.message) for problem in raised.value.problems]


@pytest.mark.parametrize(
    ("text", "milliseconds"),
    [
        ("2", 2000),
        ("1.5", 1500),
        (".25", 250),
        ("3.", 3000),
        ("0.001", 1),
        ("1500ms", 1500),
        ("1500 ms", 1500),
        ("100MS", 100),
        ("10msec", 10),
        ("1000000us", 1000),
        ("1000usec", 1),
        ("501us", 1),
        ("499us", 0),
        ("0", 0),
        (" 7 ", 7000),
    ],
)
def test_duration_forms(text: str, milliseconds: int) -> None:
    """Seconds by default (decimals allowed), ms/msec, us/usec; rounded half up like cl_get_msec."""
    assert parse_duration_ms(text) == milliseconds


@pytest.mark.parametrize("text", ["", "-1", "+1", "1s", "2 min", "1.2.3", "ms", "1e3", "x", "9" * 400])
def test_duration_rejects(text: str) -> None:
    """Negative, signed, unknown units, garbage and absurdly large values are ValueError."""
    with pytest.raises(ValueError):
        parse_duration_ms(text)


@pytest.mark.parametrize(
    ("deadtime", "initdead"),
    [("30", 30000), ("11", 11000), ("10", 20000), ("6", 12000), ("5", 12000), ("3", 12000)],
)
def test_initdead_default(tmp_path: Path, deadtime: str, initdead: int) -> None:
    """initdead defaults to deadtime above 10 s, 12 s below 6 s, else twice deadtime."""
    hacf, _ = load(tmp_path, f"deadtime {deadtime}\n")
    assert hacf.initdead_ms == initdead


def test_warntime_and_deadping_defaults(tmp_path: Path) -> None:
    """warntime defaults to half of deadtime and deadping to deadtime."""
    hacf, _ = load(tmp_path, "deadtime 9\n")
    assert (hacf.warntime_ms, hacf.deadping_ms) == (4500, 9000)


def test_millisecond_timers(tmp_path: Path) -> None:
    """Sub-second timers given in ms are kept to the millisecond."""
    hacf, warnings = load(tmp_path, "keepalive 100ms\ndeadtime 350ms\nwarntime 250ms\ninitdead 10\n")
    assert (hacf.keepalive_ms, hacf.deadtime_ms, hacf.warntime_ms, hacf.initdead_ms) == (
        100,
        350,
        250,
        10000,
    )
    assert warnings == []


def test_deadtime_too_small(tmp_path: Path) -> None:
    """deadtime must exceed twice keepalive; the error is at the deadtime line."""
    assert errors(tmp_path, "keepalive 1\ndeadtime 2\n") == [
        (5, "Dead time [2000 ms] is too small compared to keepalive [1000 ms]")
    ]


def test_keepalive_too_large_for_default_deadtime(tmp_path: Path) -> None:
    """Without a deadtime line the error is at the keepalive line."""
    assert errors(tmp_path, "keepalive 20\n") == [
        (4, "Dead time [30000 ms] is too small compared to keepalive [20000 ms]")
    ]


def test_keepalive_zero(tmp_path: Path) -> None:
    """keepalive must be more than 0 ms."""
    assert errors(tmp_path, "keepalive 0\n") == [(4, "keepalive: '0' is too short (at least 1 ms)")]


def test_initdead_smaller_than_deadtime(tmp_path: Path) -> None:
    """An initdead below deadtime is an error at the initdead line."""
    assert errors(tmp_path, "deadtime 30\ninitdead 20\n") == [
        (5, "Initial dead time [20000 ms] is smaller than deadtime [30000 ms]")
    ]


def test_initdead_below_ten_seconds_warns(tmp_path: Path) -> None:
    """An initdead under 10 s is accepted with Heartbeat's warning."""
    hacf, warnings = load(tmp_path, "keepalive 1\ndeadtime 3\ninitdead 5\n")
    assert hacf.initdead_ms == 5000
    assert warnings == [
        (6, "Initial dead time [5000 ms] may be too small! It should be >= deadtime and >= 10 seconds")
    ]


def test_warntime_not_below_deadtime(tmp_path: Path) -> None:
    """warntime must be smaller than deadtime."""
    assert errors(tmp_path, "deadtime 10\nwarntime 10\n") == [
        (5, "Warn time [10000 ms] must be smaller than deadtime [10000 ms]")
    ]


def test_warntime_below_keepalive_warns(tmp_path: Path) -> None:
    """A warntime under keepalive is accepted with a warning: every heartbeat would be late."""
    _, warnings = load(tmp_path, "keepalive 2\nwarntime 1\n")
    assert warnings == [
        (
            5,
            "Warn time [1000 ms] is smaller than keepalive [2000 ms]:"
            " every heartbeat will be reported late",
        )
    ]


def test_deadping_too_small(tmp_path: Path) -> None:
    """An explicit deadping must exceed twice keepalive."""
    assert errors(tmp_path, "keepalive 2\ndeadping 4\n") == [
        (5, "Ping dead time [4000 ms] is too small compared to keepalive [2000 ms]")
    ]


def test_conn_logd_time_is_seconds(tmp_path: Path) -> None:
    """conn_logd_time is a time value like the others."""
    hacf, _ = load(tmp_path, "conn_logd_time 1500ms\n")
    assert hacf.log.conn_logd_time_ms == 1500
