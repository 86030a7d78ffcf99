"""The Debian heartbeat package's sample ha.cf, every directive uncommented, read by hbtwist."""

from __future__ import annotations

from pathlib import Path

import pytest

from hbtwist.config import (
    ApiAuth,
    AutoFailback,
    BcastMedium,
    ClusterConfig,
    ConfigError,
    McastMedium,
    Problem,
    RespawnEntry,
    SerialMedium,
    UcastMedium,
    load_config,
)
from hbtwist.config.media import PingGroupMedium, PingMedium

SAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "config" / "debian-sample" / "ha.cf"
SAMPLE_LINES = SAMPLE.read_text().splitlines()

REFUSED = {
    "watchdog /dev/watchdog": "watchdog: the watchdog device is not supported yet",
    "hbaping fc-card-name": "hbaping: the hbaping medium does not exist in Heartbeat 3.0.6 either",
}
STONITH = ("stonith baytech", "stonith_host *")
"""The sample's STONITH lines: left out here (their check needs cluster-glue installed), read in
test_config_stonith.py."""


def line_of(start: str) -> int:
    """The number of the one sample line that starts with `start`."""
    numbers = [number for number, text in enumerate(SAMPLE_LINES, 1) if text.startswith(start)]
    assert len(numbers) == 1, (start, numbers)
    return numbers[0]


def without(starts: tuple[str, ...]) -> str:
    """The sample with the lines starting with any of `starts` commented out (numbers kept)."""
    lines = [f"#{text}" if text.startswith(starts) else text for text in SAMPLE_LINES]
    return "\n".join(lines) + "\n"


def write(directory: Path, ha_cf: str) -> Path:
    """A configuration directory with `ha_cf`, a sha1 authkeys (0600) and no haresources."""
    directory.mkdir()
    (directory / "ha.cf").write_text(ha_cf)
    keys = directory / "authkeys"
    keys.write_text("auth 1\n1 sha1 sample-secret\n")
    keys.chmod(0o600)
    return directory


@pytest.fixture(scope="module")
def supported(tmp_path_factory: pytest.TempPathFactory) -> ClusterConfig:
    """The sample with its refused and STONITH directives commented out (line numbers kept),
    loaded."""
    directory = write(tmp_path_factory.mktemp("sample") / "ha.d", without((*REFUSED, *STONITH)))
    return load_config(directory, local_node="ken3")


def test_sample_fixture_has_every_refused_directive() -> None:
    """The fixture holds each refused directive of the Debian sample exactly once."""
    for start in REFUSED:
        line_of(start)


def test_sample_refused_directives(tmp_path: Path) -> None:
    """The sample (but its STONITH lines) is refused, with exactly one error per refused
    directive, at its line."""
    directory = write(tmp_path / "ha.d", without(STONITH))
    with pytest.raises(ConfigError) as raised:
        load_config(directory, local_node="ken3")
    path = str(directory / "ha.cf")
    expected = [Problem(path, line_of(start), message) for start, message in REFUSED.items()]
    assert list(raised.value.problems) == sorted(expected, key=lambda problem: problem.line or 0)


def test_sample_refused_messages_name_file_and_line(tmp_path: Path) -> None:
    """Each refusal prints as FILE:LINE: directive: reason."""
    directory = write(tmp_path / "ha.d", without(STONITH))
    with pytest.raises(ConfigError) as raised:
        load_config(directory, local_node="ken3")
    first = str(raised.value).splitlines()[0]
    line = line_of("watchdog /dev/watchdog")
    assert first == f"{directory / 'ha.cf'}:{line}: watchdog: the watchdog device is not supported yet"


def test_sample_supported_warns_only_about_api_clients(supported: ClusterConfig) -> None:
    """Without its refused directives the sample loads; only respawn and apiauth are warned
    about (no Heartbeat API socket in hbtwist, so API clients such as ipfail cannot run)."""
    warned = sorted(problem.message.split()[0] for problem in supported.warnings)
    assert warned == ["apiauth", "respawn"]


def test_sample_log_settings(supported: ClusterConfig) -> None:
    """debugfile, logfile, logfacility, use_logd, conn_logd_time and debug are typed values."""
    log = supported.hacf.log
    assert log.debugfile == "/var/log/ha-debug"
    assert log.logfile == "/var/log/ha-log"
    assert log.facility == "local0"
    assert log.use_logd is True
    assert log.conn_logd_time_ms == 60000
    assert log.debug == 1


def test_sample_timers(supported: ClusterConfig) -> None:
    """keepalive 2, deadtime 30, warntime 10, initdead 120 and deadping 30 are seconds."""
    hacf = supported.hacf
    assert (hacf.keepalive_ms, hacf.deadtime_ms, hacf.warntime_ms) == (2000, 30000, 10000)
    assert (hacf.initdead_ms, hacf.deadping_ms) == (120000, 30000)


def test_sample_media(supported: ClusterConfig) -> None:
    """serial, bcast (one and two interfaces), mcast, ucast, ping and ping_group become typed
    media in order."""
    path = str(supported.hacf.media[0].location[0])
    assert supported.hacf.media == (
        SerialMedium("/dev/ttyS0", 19200),
        BcastMedium("eth0", 694),
        BcastMedium("eth1", 694),
        BcastMedium("eth2", 694),
        McastMedium("eth0", "225.0.0.1", 694, 1, False),
        UcastMedium("eth0", "192.168.1.2", 694),
        PingMedium("10.10.10.254", ("10.10.10.254",)),
        PingGroupMedium("group1", ("10.10.10.254", "10.10.10.253")),
    )
    assert [medium.location for medium in supported.hacf.media] == [
        (path, line_of("serial")),
        (path, line_of("bcast\teth0")),
        (path, line_of("bcast\teth1")),
        (path, line_of("bcast\teth1")),
        (path, line_of("mcast")),
        (path, line_of("ucast")),
        (path, line_of("ping ")),
        (path, line_of("ping_group")),
    ]
    assert [medium.name for medium in supported.hacf.media] == [
        "/dev/ttyS0",
        "eth0",
        "eth1",
        "eth2",
        "eth0",
        "eth0",
        "10.10.10.254",
        "group1",
    ]


def test_sample_udpport_and_baud(supported: ClusterConfig) -> None:
    """udpport 694 and baud 19200 are read as numbers."""
    assert (supported.hacf.udpport, supported.hacf.baud) == (694, 19200)


def test_sample_nodes_and_failback(supported: ClusterConfig) -> None:
    """node ken3 / node kathy keep their order; auto_failback on is ON."""
    assert supported.hacf.nodes == ("ken3", "kathy")
    assert supported.hacf.auto_failback is AutoFailback.ON


def test_sample_respawn_and_apiauth(supported: ClusterConfig) -> None:
    """respawn gives user and command; apiauth gives the client's uid and gid lists."""
    path = str(supported.hacf.media[0].location[0])
    assert supported.hacf.respawn == (
        RespawnEntry("hacluster", "/usr/lib/heartbeat/ipfail", (), (path, line_of("respawn"))),
    )
    assert supported.hacf.apiauth == (
        ApiAuth("ipfail", ("hacluster",), ("haclient",), (path, line_of("apiauth"))),
    )


def test_sample_unusual_options(supported: ClusterConfig) -> None:
    """hopfudge, hbgenmethod, realtime, compression and its threshold are typed values."""
    hacf = supported.hacf
    assert hacf.hopfudge == 1
    assert hacf.hbgenmethod == "time"
    assert hacf.realtime is False
    assert hacf.compression == "bz2"
    assert hacf.compression_threshold_kb == 2


def test_sample_parameters_as_written(supported: ClusterConfig) -> None:
    """getparm-style lookups give the values as written in the sample."""
    hacf = supported.hacf
    assert hacf.parameter("keepalive") == "2"
    assert hacf.parameter("logfacility") == "local0"
    assert hacf.parameter("msgfmt") == "classic"
    assert ("bcast", "eth2") in hacf.directives
