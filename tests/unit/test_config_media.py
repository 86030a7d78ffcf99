"""ha.cf media lines (spec section 7): syntax, Heartbeat's limits, udpport/baud order.

Checks against this host are in test_media_hostcheck.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hbtwist.config import (
    MEDIUM_PARSERS,
    BcastMedium,
    ClusterConfig,
    ConfigError,
    Mcast6Medium,
    McastMedium,
    SerialMedium,
    Ucast6Medium,
    UcastMedium,
    load_config,
)

HEAD = "node alpha\nauto_failback on\n"


def write(tmp_path: Path, ha_cf: str) -> Path:
    """A configuration directory with HEAD + `ha_cf` and a valid authkeys (mode 0600)."""
    directory = tmp_path / "ha.d"
    directory.mkdir(exist_ok=True)
    (directory / "ha.cf").write_text(HEAD + ha_cf)
    keys = directory / "authkeys"
    keys.write_text("auth 1\n1 sha1 secret\n")
    keys.chmod(0o600)
    return directory


def load(tmp_path: Path, ha_cf: str) -> ClusterConfig:
    """Load HEAD + `ha_cf` as node alpha."""
    return load_config(write(tmp_path, ha_cf), local_node="alpha")


def errors(tmp_path: Path, ha_cf: str) -> list[tuple[int | None, str]]:
    """The (line, message) of the errors of HEAD + `ha_cf`."""
    directory = write(tmp_path, ha_cf)
    with pytest.raises(ConfigError) as raised:
        load_config(directory, local_node="alpha")
    assert {problem.path for problem in raised.value.problems} == {str(directory / "ha.cf")}
    return [(problem.line, problem.message) for problem in raised.value.problems]


def test_parser_table() -> None:
    """MEDIUM_PARSERS maps each medium directive to its parser; bcast and serial take word lists."""
    assert set(MEDIUM_PARSERS) == {
        *("bcast", "mcast", "mcast6", "ucast", "ucast6", "serial"),
        *("ping", "ping6", "ping_group"),
    }
    assert [name for name, parser in MEDIUM_PARSERS.items() if not parser.whole_line] == [
        "bcast",
        "serial",
        "ping",
        "ping6",
    ]


def test_every_kind(tmp_path: Path) -> None:
    """One line of each kind gives the typed medium, with kind, name and location."""
    config = load(
        tmp_path,
        "bcast eth0\nmcast eth1 239.1.2.3 5405 0 1\nmcast6 eth2 ff12::1:2:3:4 694 4 0\n"
        "ucast eth3 peer.example.org\nucast6 eth4 fe80::2%eth4\nucast6 eth4 2001:db8::2\n"
        "serial /dev/ttyS0\n",
    )
    media = config.hacf.media
    assert media == (
        BcastMedium("eth0", 694),
        McastMedium("eth1", "239.1.2.3", 5405, 0, True),
        Mcast6Medium("eth2", "ff12::1:2:3:4", 694, 4, False),
        UcastMedium("eth3", "peer.example.org", 694),
        Ucast6Medium("eth4", "fe80::2", "eth4", 694),
        Ucast6Medium("eth4", "2001:db8::2", None, 694),
        SerialMedium("/dev/ttyS0", 19200),
    )
    assert [medium.kind for medium in media] == [
        "bcast",
        "mcast",
        "mcast6",
        "ucast",
        "ucast6",
        "ucast6",
        "serial",
    ]
    assert [medium.location[1] for medium in media] == [3, 4, 5, 6, 7, 8, 9]
    assert [medium.describe() for medium in media] == [
        "bcast eth0 :694",
        "mcast eth1 -> 239.1.2.3:5405 ttl=0 loop=1",
        "mcast6 eth2 -> [ff12::1:2:3:4]:694 hops=4 loop=0",
        "ucast eth3 -> peer.example.org:694",
        "ucast6 eth4 -> [fe80::2%eth4]:694",
        "ucast6 eth4 -> [2001:db8::2]:694",
        "serial /dev/ttyS0 @19200",
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("mcast eth0 225.0.0.1 694 5 0", "mcast: bad ttl '5' (0..4)"),
        ("mcast eth0 225.0.0.1 694 1 2", "mcast: bad loop '2' (0 or 1)"),
        ("mcast eth0 10.0.0.1 694 1 0", "mcast: 10.0.0.1 is not a multicast group (224.0.0.0/4)"),
        (
            "mcast eth0 225.0.0.1 0 1 0",
            "mcast: invalid port '0' (a number 1..65535 or a UDP service name)",
        ),
        (
            "mcast eth0 225.0.0.1 694 1",
            "mcast: missing loop (syntax: mcast <dev> <group> <port> <ttl> <loop>)",
        ),
        ("mcast eth0 225.0.0.256 694 1 0", "mcast: invalid IPv4 address '225.0.0.256'"),
        (
            "mcast6 eth0 2001:db8::1 694 1 0",
            "mcast6: 2001:db8::1 is not an IPv6 multicast group (ff00::/8)",
        ),
        ("mcast6 eth0 ff12::1 694 9 0", "mcast6: bad hops '9' (0..4)"),
        ("ucast eth0", "ucast: missing peer (syntax: ucast <dev> <peer>)"),
        (
            "ucast eth0 2001:db8::1",
            "ucast: '2001:db8::1' is not an IPv4 address or host name (use ucast6 for IPv6)",
        ),
        ("ucast eth0 300.1.1.1", "ucast: invalid IPv4 address '300.1.1.1'"),
        ("ucast eth0 bad_host!", "ucast: invalid host name 'bad_host!'"),
        ("ucast6 eth0 192.0.2.1", "ucast6: invalid IPv6 address '192.0.2.1'"),
        ("ucast6 eth0 ff02::1", "ucast6: ff02::1 is a multicast address (use mcast6)"),
        ("ucast6 eth0 fe80::1%", "ucast6: empty scope in 'fe80::1%'"),
        ("bcast eth0/1", "bcast: invalid network interface name 'eth0/1'"),
        ("bcast averyveryverylongname", "bcast: invalid network interface name 'averyveryverylongname'"),
        ("serial ttyS0", "serial: serial port 'ttyS0' is not a full path name"),
    ],
)
def test_bad_media(tmp_path: Path, line: str, message: str) -> None:
    """Each malformed medium line is one error naming the directive, at its line."""
    assert errors(tmp_path, "bcast lo\n" + line + "\n") == [(4, message)]


def test_extra_words_warn(tmp_path: Path) -> None:
    """Words after a complete medium line are ignored with a warning (one peer per ucast line)."""
    config = load(tmp_path, "ucast eth0 192.0.2.2 192.0.2.3\n")
    assert config.hacf.media == (UcastMedium("eth0", "192.0.2.2", 694),)
    assert [(w.line, w.message) for w in config.warnings] == [
        (3, "ucast: extra text '192.0.2.3' is ignored")
    ]


def test_identical_media_warn(tmp_path: Path) -> None:
    """The same medium twice is kept (as Heartbeat does) but warned about."""
    config = load(tmp_path, "bcast eth0\nbcast eth0\n")
    assert len(config.hacf.media) == 2
    assert [(w.line, w.message) for w in config.warnings] == [(4, "bcast: same medium as line 3")]


def test_udpport_before_media(tmp_path: Path) -> None:
    """udpport applies to the bcast/ucast/ucast6 lines after it, not to mcast's own port."""
    config = load(
        tmp_path, "udpport 1694\nbcast eth0\nucast eth0 192.0.2.2\nmcast eth0 239.0.0.1 694 1 0\n"
    )
    assert config.hacf.media == (
        BcastMedium("eth0", 1694),
        UcastMedium("eth0", "192.0.2.2", 1694),
        McastMedium("eth0", "239.0.0.1", 694, 1, False),
    )
    assert config.hacf.udpport == 1694
    assert config.warnings == ()


def test_udpport_after_media_keeps_latched_ports(tmp_path: Path) -> None:
    """As in Heartbeat's plugins, each UDP kind keeps the port its first line saw; a warning says so."""
    config = load(tmp_path, "bcast eth0\nudpport 700\nbcast eth1\nucast eth0 192.0.2.2\n")
    assert config.hacf.media == (
        BcastMedium("eth0", 694),
        BcastMedium("eth1", 694),
        UcastMedium("eth0", "192.0.2.2", 700),
    )
    assert [(w.line, w.message) for w in config.warnings] == [
        (
            4,
            "udpport 700 comes after the first bcast line (line 3), so bcast media keep port 694;"
            " put udpport before the media lines",
        )
    ]


def test_udpport_service_name(tmp_path: Path) -> None:
    """udpport accepts the ha-cluster service name."""
    assert load(tmp_path, "udpport ha-cluster\nbcast lo\n").hacf.udpport == 694


def test_baud_after_serial(tmp_path: Path) -> None:
    """baud after the first serial line does not change it (Heartbeat latches it); it warns."""
    config = load(tmp_path, "serial /dev/ttyS0\nbaud 115200\nserial /dev/ttyS1\n")
    assert config.hacf.media == (SerialMedium("/dev/ttyS0", 19200), SerialMedium("/dev/ttyS1", 19200))
    assert config.hacf.baud == 115200
    assert [(w.line, w.message) for w in config.warnings] == [
        (
            4,
            "baud 115200 comes after the first serial line (line 3), so serial media keep 19200 baud;"
            " put baud before the serial lines",
        )
    ]


def test_baud_only_once(tmp_path: Path) -> None:
    """A second baud line is an error, as in Heartbeat."""
    assert errors(tmp_path, "baud 9600\nbaud 9600\nserial /dev/ttyS0\n") == [
        (4, "baud: baud may be given only once (first on line 3)")
    ]


def test_too_many_media(tmp_path: Path) -> None:
    """The 65th medium is refused (MAXMEDIA is 64)."""
    lines = "".join(f"ucast eth0 192.0.2.{number}\n" for number in range(1, 66))
    assert errors(tmp_path, lines) == [(67, "ucast: too many media (at most 64)")]
