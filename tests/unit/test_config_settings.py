"""hbtwist.cf: the default resource policy, per-resource overrides, every problem as FILE:LINE,
and its errors refused by `hbctl check` and by the daemon like those of the other files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hbtwist.cli.main import main
from hbtwist.config import (
    ClusterConfig,
    ConfigError,
    ResourcePolicy,
    ResourceSettings,
    load_config,
    summarize,
)
from hbtwist.config.settings import describe
from hbtwist.daemon import tap

HA_CF = "bcast lo\nnode alpha beta\nauto_failback on\n"
HARESOURCES = "alpha 192.0.2.10 httpd\nbeta IPaddr2::192.0.2.20/24/lo Filesystem::/dev/sda1::/data\n"


def write(directory: Path, hbtwist_cf: str | None, haresources: str | None = HARESOURCES) -> Path:
    """A configuration directory with a valid ha.cf and authkeys, and the other files if given."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "ha.cf").write_text(HA_CF)
    keys = directory / "authkeys"
    keys.write_text("auth 1\n1 sha1 secret\n")
    keys.chmod(0o600)
    if haresources is not None:
        (directory / "haresources").write_text(haresources)
    if hbtwist_cf is not None:
        (directory / "hbtwist.cf").write_text(hbtwist_cf)
    return directory


def load(tmp_path: Path, hbtwist_cf: str | None, haresources: str | None = HARESOURCES) -> ClusterConfig:
    """Load the directory `write` makes, as node alpha."""
    return load_config(write(tmp_path / "ha.d", hbtwist_cf, haresources), local_node="alpha")


def errors(tmp_path: Path, hbtwist_cf: str) -> list[tuple[int | None, str]]:
    """The (line, message) of the problems, after checking they all name hbtwist.cf."""
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, hbtwist_cf)
    assert {problem.path for problem in raised.value.problems} == {str(tmp_path / "ha.d" / "hbtwist.cf")}
    return [(problem.line, problem.message) for problem in raised.value.problems]


def test_absent_file_means_defaults(tmp_path: Path) -> None:
    """Without hbtwist.cf the default policy applies to every resource and no source is named."""
    config = load(tmp_path, None)
    assert config.settings == ResourceSettings()
    assert config.settings.source is None
    assert config.settings.policy("httpd") == ResourcePolicy()
    assert "resource policy" not in summarize(config)


def test_empty_file_means_defaults(tmp_path: Path) -> None:
    """A file of comments and blank lines gives the default policy, with the file as source."""
    config = load(tmp_path, "# nothing yet\n\n   \t\n  # indented comment\n")
    assert config.settings == ResourceSettings(source=str(tmp_path / "ha.d" / "hbtwist.cf"))


def test_every_setting(tmp_path: Path) -> None:
    """Each directive sets its field of the default policy; times in ms, `#` ends a line."""
    config = load(
        tmp_path,
        "start_timeout 90  # seconds\n"
        "stop_timeout 45.5\n"
        "monitor_timeout 1500ms\n"
        "monitor_interval 0\n"
        "restart_limit 0\n"
        "restart_window 3600\n"
        "  stop_retries 2\n"
        "stop_retry_interval 250000us\n"
        "native_ip off\n"
        "arp_count 0\n"
        "arp_interval 50ms\n",
    )
    assert config.settings.default == ResourcePolicy(
        start_timeout_ms=90_000,
        stop_timeout_ms=45_500,
        monitor_timeout_ms=1_500,
        monitor_interval_ms=0,
        restart_limit=0,
        restart_window_ms=3_600_000,
        stop_retries=2,
        stop_retry_interval_ms=250,
        native_ip=False,
        arp_count=0,
        arp_interval_ms=50,
    )
    assert config.settings.overrides == ()
    assert config.warnings == ()


def test_overrides_inherit_the_final_defaults(tmp_path: Path) -> None:
    """A resource line takes the defaults of the whole file, even those set on later lines."""
    config = load(
        tmp_path,
        "resource httpd restart_limit=1 monitor_interval=5\n"
        "resource 192.0.2.10 native_ip=no arp_count=2\n"
        "monitor_interval 30\n"
        "stop_timeout 120\n",
    )
    default = ResourcePolicy(monitor_interval_ms=30_000, stop_timeout_ms=120_000)
    settings = config.settings
    assert settings.default == default
    assert settings.overrides == (
        ("httpd", ResourcePolicy(monitor_interval_ms=5_000, stop_timeout_ms=120_000, restart_limit=1)),
        (
            "192.0.2.10",
            ResourcePolicy(
                monitor_interval_ms=30_000, stop_timeout_ms=120_000, native_ip=False, arp_count=2
            ),
        ),
    )
    assert settings.policy("httpd").restart_limit == 1
    assert settings.policy("IPaddr2::192.0.2.20/24/lo") == default


def test_resource_named_as_written(tmp_path: Path) -> None:
    """A resource is named by its haresources text, arguments included, case kept."""
    config = load(tmp_path, "resource Filesystem::/dev/sda1::/data stop_timeout=300\n")
    assert config.settings.policy("Filesystem::/dev/sda1::/data").stop_timeout_ms == 300_000
    assert errors(tmp_path, "resource filesystem::/dev/sda1::/data stop_timeout=300\n") == [
        (1, "unknown resource 'filesystem::/dev/sda1::/data' (not in haresources)")
    ]


@pytest.mark.parametrize(
    ("line", "field", "expected"),
    [
        ("monitor_interval 100ms", "monitor_interval_ms", 100),
        ("monitor_interval 0", "monitor_interval_ms", 0),
        ("restart_limit 1000", "restart_limit", 1000),
        ("stop_retries 0", "stop_retries", 0),
        ("stop_retry_interval 0", "stop_retry_interval_ms", 0),
        ("arp_count 50", "arp_count", 50),
        ("arp_interval 10", "arp_interval_ms", 10_000),
        ("arp_interval 0", "arp_interval_ms", 0),
        ("start_timeout 1ms", "start_timeout_ms", 1),
        ("restart_window 2147483647ms", "restart_window_ms", 2_147_483_647),
    ],
)
def test_bounds_accepted(tmp_path: Path, line: str, field: str, expected: int) -> None:
    """The ends of each documented range are accepted."""
    assert getattr(load(tmp_path, line + "\n").settings.default, field) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("start_timeout 0", "start_timeout: '0' is too short (more than 0 ms)"),
        ("stop_timeout 0.0001", "stop_timeout: '0.0001' is too short (more than 0 ms)"),
        (
            "monitor_timeout -1",
            "monitor_timeout: invalid time '-1' (seconds, or a number followed by ms or us)",
        ),
        ("restart_window 0", "restart_window: '0' is too short (more than 0 ms)"),
        (
            "monitor_interval 99ms",
            "monitor_interval: '99ms' is too short (0 turns monitoring off, else at least 100 ms)",
        ),
        ("monitor_interval 10s", "monitor_interval: invalid time unit 's' in '10s' (use ms or us)"),
        ("restart_limit 1001", "restart_limit: 1001 is out of range (0..1000)"),
        ("stop_retries -1", "stop_retries: -1 is out of range (0..1000)"),
        ("stop_retries 2x", "stop_retries: expected a whole number, not '2x'"),
        ("arp_count 51", "arp_count: 51 is out of range (0..50)"),
        ("arp_interval 10001ms", "arp_interval: '10001ms' is too long (at most 10000 ms)"),
        (
            "native_ip maybe",
            "native_ip: expected a boolean (on/off, yes/no, true/false, 1/0), not 'maybe'",
        ),
        ("native_ip", "native_ip: missing value"),
        ("arp_count 1 2", "arp_count: expected one value, not '1 2'"),
        (
            "monitor_intervall 5",
            "unknown directive 'monitor_intervall' (did you mean 'monitor_interval'?)",
        ),
        ("frobnicate 5", "unknown directive 'frobnicate'"),
        ("keepalive 2", "unknown directive 'keepalive' (an ha.cf directive: it belongs in ha.cf)"),
        ("bcast eth0", "unknown directive 'bcast' (an ha.cf directive: it belongs in ha.cf)"),
        (
            "Monitor_interval 5",
            "unknown directive 'Monitor_interval' (did you mean 'monitor_interval'?)",
        ),
        ("resource", "resource: missing resource (as written in haresources)"),
        ("resource httpd", "resource 'httpd': no settings (NAME=VALUE after it)"),
        ("resource nginx restart_limit=1", "unknown resource 'nginx' (not in haresources)"),
        ("resource httpd restart_limit", "resource 'httpd': expected NAME=VALUE, not 'restart_limit'"),
        ("resource httpd =1", "resource 'httpd': expected NAME=VALUE, not '=1'"),
        ("resource httpd restart_limit=", "resource 'httpd': expected NAME=VALUE, not 'restart_limit='"),
        (
            "resource httpd restart_limt=1",
            "resource 'httpd': unknown setting 'restart_limt' (did you mean 'restart_limit'?)",
        ),
        ("resource httpd keepalive=1", "resource 'httpd': unknown setting 'keepalive'"),
        (
            "resource httpd restart_limit=1 restart_limit=2",
            "resource 'httpd': restart_limit is given twice",
        ),
        (
            "resource httpd stop_timeout=0",
            "resource 'httpd': stop_timeout: '0' is too short (more than 0 ms)",
        ),
        (
            "resource 192.0.2.10 arp_count=99",
            "resource '192.0.2.10': arp_count: 99 is out of range (0..50)",
        ),
    ],
)
def test_one_line_problems(tmp_path: Path, text: str, message: str) -> None:
    """A bad value, range, directive, setting or resource is one error at its line."""
    assert errors(tmp_path, f"# settings\n{text}\n") == [(2, message)]


def test_repeats_are_errors(tmp_path: Path) -> None:
    """A directive or a resource given twice is an error at the second line, naming the first."""
    assert errors(
        tmp_path,
        "monitor_interval 5\nresource httpd restart_limit=1\nmonitor_interval 6\n"
        "resource httpd stop_retries=2\n",
    ) == [
        (3, "monitor_interval is set again (first on line 1)"),
        (4, "resource 'httpd' is set again (first on line 2)"),
    ]


def test_every_problem_in_line_order(tmp_path: Path) -> None:
    """Every problem of the file is listed, in line order, several on one line if need be."""
    assert errors(
        tmp_path,
        "arp_count 99\nresource nginx restart_limit=x\nstop_retries 5\n",
    ) == [
        (1, "arp_count: 99 is out of range (0..50)"),
        (2, "unknown resource 'nginx' (not in haresources)"),
        (2, "resource 'nginx': restart_limit: expected a whole number, not 'x'"),
    ]


def test_line_not_text(tmp_path: Path) -> None:
    """A line holding control characters is refused as a whole, quoted short and printable."""
    assert errors(tmp_path, "stop_retries 2\x01\n") == [
        (1, "the line is not text (binary data, or not UTF-8): 'stop_retries 2\\x01'")
    ]


def test_resource_without_haresources(tmp_path: Path) -> None:
    """Without haresources, a resource line names an unknown resource; settings alone are fine."""
    assert load(tmp_path, "monitor_interval 5\n", haresources=None).settings.default == (
        ResourcePolicy(monitor_interval_ms=5_000)
    )
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, "resource httpd restart_limit=1\n", haresources=None)
    assert [str(problem) for problem in raised.value.problems] == [
        f"{tmp_path / 'ha.d' / 'hbtwist.cf'}:1: unknown resource 'httpd' (not in haresources)"
    ]


def test_names_unchecked_when_haresources_is_broken(tmp_path: Path) -> None:
    """A haresources line that cannot be read is its one problem: hbtwist.cf's names stand."""
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, "resource httpd restart_limit=1\n", haresources="gamma httpd\n")
    assert [str(problem) for problem in raised.value.problems] == [
        f"{tmp_path / 'ha.d' / 'haresources'}:1: unknown node 'gamma'"
    ]


def test_files_in_order(tmp_path: Path) -> None:
    """Problems of ha.cf and hbtwist.cf are both listed, hbtwist.cf's after the others."""
    directory = write(tmp_path / "ha.d", "stop_retries many\n")
    (directory / "ha.cf").write_text(HA_CF + "keepalve 2\n")
    with pytest.raises(ConfigError) as raised:
        load_config(directory, local_node="alpha")
    assert [(Path(problem.path).name, problem.line) for problem in raised.value.problems] == [
        ("ha.cf", 4),
        ("hbtwist.cf", 1),
    ]


def test_ip_settings_on_other_resources_warn(tmp_path: Path) -> None:
    """native_ip and arp_* on a resource that is not IPaddr or IPaddr2 are accepted with a warning."""
    config = load(tmp_path, "resource httpd native_ip=off arp_count=1 restart_limit=1\n")
    assert [(problem.line, problem.message) for problem in config.warnings] == [
        (1, "resource 'httpd': native_ip has no effect (IPaddr and IPaddr2 resources only)"),
        (1, "resource 'httpd': arp_count has no effect (IPaddr and IPaddr2 resources only)"),
    ]
    config = load(tmp_path, "resource IPaddr2::192.0.2.20/24/lo native_ip=off arp_count=1\n")
    assert config.warnings == ()


def test_describe() -> None:
    """describe() writes a policy as hbtwist.cf would; against a base, only what differs."""
    assert describe(ResourcePolicy()) == (
        "start_timeout 60000 ms, stop_timeout 60000 ms, monitor_timeout 20000 ms,"
        " monitor_interval 10000 ms, restart_limit 3, restart_window 600000 ms, stop_retries 10,"
        " stop_retry_interval 1000 ms, native_ip on, arp_count 5, arp_interval 200 ms"
    )
    changed = ResourcePolicy(monitor_interval_ms=0, native_ip=False, restart_limit=1)
    assert describe(changed, ResourcePolicy()) == (
        "monitor_interval 0 (off), restart_limit 1, native_ip off"
    )
    assert describe(ResourcePolicy(), ResourcePolicy()) == "same as the default"


def test_summary_names_the_file(tmp_path: Path) -> None:
    """summarize() shows the file, the default policy and each override's differences."""
    config = load(tmp_path, "restart_limit 2\nresource httpd monitor_interval=0\n")
    lines = summarize(config).splitlines()
    start = lines.index(f"resource policy ({tmp_path / 'ha.d' / 'hbtwist.cf'}):")
    assert lines[start + 1] == f"  default: {describe(config.settings.default)}"
    assert "restart_limit 2," in lines[start + 1]
    assert lines[start + 2 :] == ["  httpd: monitor_interval 0 (off)", "warnings: none"]


def test_hbctl_check_refuses_a_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`hbctl check` prints hbtwist.cf's problems as FILE:LINE: on stderr and exits 2."""
    directory = write(tmp_path / "ha.d", "monitor_interval 5\nrestart_limit lots\n")
    assert main(["check", str(directory), "--node", "alpha", "--no-host-check"]) == 2
    out, err = capsys.readouterr()
    assert err.splitlines() == [
        f"{directory / 'hbtwist.cf'}:2: restart_limit: expected a whole number, not 'lots'"
    ]
    assert re.search(r"hbtwist\.cf:2: ", err)
    assert out == ""


def test_hbctl_check_accepts_a_good_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`hbctl check` accepts a valid hbtwist.cf, exits 0 and summarizes its policy."""
    directory = write(tmp_path / "ha.d", "resource httpd restart_limit=1\n")
    assert main(["check", str(directory), "--node", "alpha", "--no-host-check"]) == 0
    out, err = capsys.readouterr()
    assert "  httpd: restart_limit 1\n" in out
    assert err == ""


def test_daemon_refuses_a_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`twistd heartbeat` exits 2 after hbtwist.cf's FILE:LINE: problems, before building anything."""
    directory = write(tmp_path / "ha.d", "\nresource nginx restart_limit=1\n")
    options = tap.Options()
    with pytest.raises(SystemExit) as raised:
        options.parseOptions(["--config-dir", str(directory), "--node-name", "alpha"])
    assert raised.value.code == 2
    out, err = capsys.readouterr()
    assert err.splitlines() == [
        f"{directory / 'hbtwist.cf'}:2: unknown resource 'nginx' (not in haresources)",
        "hbtwist: configuration invalid, not starting",
    ]
    assert out == ""


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=60))
def test_any_line_loads_or_is_refused(tmp_path: Path, line: str) -> None:
    """Whatever one line holds, loading gives settings or a ConfigError naming hbtwist.cf."""
    directory = write(tmp_path / "ha.d", None)
    (directory / "hbtwist.cf").write_bytes(line.encode("utf-8", "surrogateescape") + b"\n")
    try:
        config = load_config(directory, local_node="alpha")
    except ConfigError as error:
        assert {Path(problem.path).name for problem in error.problems} == {"hbtwist.cf"}
    else:
        assert config.settings.source == str(directory / "hbtwist.cf")
