"""ha.cf: line syntax, directives, node list and the errors they give, as FILE:LINE: problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from hbtwist.config import (
    AutoFailback,
    BcastMedium,
    ClusterConfig,
    ConfigError,
    McastMedium,
    Problem,
    SerialMedium,
    UcastMedium,
    load_config,
)

AUTHKEYS = "auth 1\n1 sha1 secret\n"
BASE = "bcast lo\nnode alpha beta\nauto_failback on\n"


def write(directory: Path, ha_cf: str) -> Path:
    """A configuration directory holding `ha_cf` and a valid authkeys (mode 0600)."""
    directory.mkdir(exist_ok=True)
    (directory / "ha.cf").write_text(ha_cf)
    keys = directory / "authkeys"
    keys.write_text(AUTHKEYS)
    keys.chmod(0o600)
    return directory


def load(tmp_path: Path, ha_cf: str, node: str = "alpha") -> ClusterConfig:
    """Load `ha_cf` as `node`, without host checks."""
    return load_config(write(tmp_path / "ha.d", ha_cf), local_node=node)


def errors(tmp_path: Path, ha_cf: str, node: str = "alpha") -> list[tuple[int | None, str]]:
    """The (line, message) of every problem in `ha_cf`, after checking they all name ha.cf."""
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, ha_cf, node)
    path = str(tmp_path / "ha.d" / "ha.cf")
    assert all(problem.path == path for problem in raised.value.problems)
    return [(problem.line, problem.message) for problem in raised.value.problems]


def warnings(config: ClusterConfig) -> list[tuple[int | None, str]]:
    """The (line, message) of every warning of a loaded configuration."""
    return [(problem.line, problem.message) for problem in config.warnings]


def test_two_node_ucast(tmp_path: Path) -> None:
    """Two nodes over ucast (both peers listed, as on every node) load with Heartbeat's defaults."""
    config = load(
        tmp_path,
        "node alpha\nnode beta\nucast eth0 192.0.2.11\nucast eth0 192.0.2.12\nauto_failback off\n",
    )
    hacf = config.hacf
    assert hacf.nodes == ("alpha", "beta")
    assert hacf.media == (UcastMedium("eth0", "192.0.2.11", 694), UcastMedium("eth0", "192.0.2.12", 694))
    assert (hacf.keepalive_ms, hacf.deadtime_ms, hacf.warntime_ms) == (1000, 30000, 15000)
    assert (hacf.initdead_ms, hacf.deadping_ms) == (30000, 30000)
    assert hacf.auto_failback is AutoFailback.OFF
    assert config.warnings == ()


def test_three_nodes_mixed_media_millisecond_timers(tmp_path: Path) -> None:
    """Three nodes over bcast, mcast and serial with millisecond timers and a 38400 baud line."""
    config = load(
        tmp_path,
        "keepalive 200ms\ndeadtime 1500ms\nwarntime 0.5\ninitdead 10\nbaud 38400\n"
        "udpport 7000\nbcast eth1\nmcast eth2 239.0.0.1 694 1 0\nserial /dev/ttyS1\n"
        "node Alpha beta,gamma\nauto_failback on\n",
        node="gamma",
    )
    hacf = config.hacf
    assert hacf.nodes == ("alpha", "beta", "gamma")
    assert (hacf.keepalive_ms, hacf.deadtime_ms, hacf.warntime_ms, hacf.initdead_ms) == (
        200,
        1500,
        500,
        10000,
    )
    assert hacf.media == (
        BcastMedium("eth1", 7000),
        McastMedium("eth2", "239.0.0.1", 694, 1, False),
        SerialMedium("/dev/ttyS1", 38400),
    )
    assert config.local_node == "gamma"
    assert config.warnings == ()


def test_comments_blanks_and_commas(tmp_path: Path) -> None:
    """`#` anywhere ends the line; leading blanks, tabs and commas between values are skipped."""
    config = load(
        tmp_path, "  # a comment\n\n\tnode alpha,beta # end\nbcast lo, lo2#x\nauto_failback on\n"
    )
    assert config.hacf.nodes == ("alpha", "beta")
    assert [medium.name for medium in config.hacf.media] == ["lo", "lo2"]


def test_unknown_directive(tmp_path: Path) -> None:
    """A misspelt directive is an error naming it, at its line, with the directive meant."""
    assert errors(tmp_path, BASE + "keepalve 2\n") == [
        (4, "unknown directive 'keepalve' (did you mean 'keepalive'?)")
    ]


def test_unknown_word_without_suggestion(tmp_path: Path) -> None:
    """A word close to no directive is only reported unknown."""
    assert errors(tmp_path, BASE + "frobnicate 2\n") == [(4, "unknown directive 'frobnicate'")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("keepalve 2\ndeadtime 2\n", (4, "unknown directive 'keepalve' (did you mean 'keepalive'?)")),
        ("keepalive 2x\ndeadtime 2\n", (4, "keepalive: invalid time unit 'x' in '2x' (use ms or us)")),
        (
            "deadtime soon\nwarntime 40\n",
            (4, "deadtime: invalid time 'soon' (seconds, or a number followed by ms or us)"),
        ),
        ("logfacility locl0\nuse_logd off\n", (4, "logfacility: unknown syslog facility 'locl0'")),
    ],
)
def test_no_follow_on_errors(tmp_path: Path, text: str, expected: tuple[int, str]) -> None:
    """A line that could not be read is the only error: checks that depend on it stand down."""
    assert errors(tmp_path, BASE + text) == [expected]


def test_misread_node_and_media_lines_stand_alone(tmp_path: Path) -> None:
    """A broken node or medium line does not also report missing nodes, media or local node."""
    assert errors(tmp_path, "auto_failback on\nnod alpha\nbcst lo\n") == [
        (2, "unknown directive 'nod' (did you mean 'node'?)"),
        (3, "unknown directive 'bcst' (did you mean 'bcast'?)"),
    ]


def test_problems_in_line_order(tmp_path: Path) -> None:
    """Problems are listed by line, whatever check found them."""
    text = "keepalive 2\ndeadtime 2\nbogus 1\nbcast lo\nnode alpha\nauto_failback on\n"
    assert [line for line, _ in errors(tmp_path, text)] == [2, 3]


def test_binary_line_is_not_text(tmp_path: Path) -> None:
    """A line of binary data is one short error saying it is not text, not kilobytes of escapes."""
    directory = write(tmp_path / "ha.d", BASE)
    with (directory / "ha.cf").open("ab") as stream:
        stream.write((b"\x01\x02" + bytes(range(128, 256))) * 20 + b"\n")
    with pytest.raises(ConfigError) as raised:
        load_config(directory, local_node="alpha")
    [problem] = raised.value.problems
    assert problem.line == 4
    assert problem.message.startswith("the line is not text (binary data, or not UTF-8): '")
    assert problem.message.endswith("\u2026'") and len(problem.message) < 120


def test_directives_are_case_sensitive(tmp_path: Path) -> None:
    """`Node` is not `node`, as in Heartbeat."""
    assert errors(tmp_path, BASE + "Node gamma\n") == [(4, "unknown directive 'Node'")]


def test_missing_value(tmp_path: Path) -> None:
    """A directive without a value is an error."""
    assert errors(tmp_path, BASE + "keepalive\n") == [(4, "keepalive: missing value")]


def test_multiple_errors_all_reported(tmp_path: Path) -> None:
    """Every bad line is reported, in file order, not just the first."""
    text = "keepalive soon\nbcast lo\nnode alpha\nhopfudge 300\nauto_failback maybe\nfoo bar\n"
    assert errors(tmp_path, text) == [
        (1, "keepalive: invalid time 'soon' (seconds, or a number followed by ms or us)"),
        (4, "hopfudge: 300 is out of range (0..255)"),
        (5, "auto_failback: expected on, off or legacy, not 'maybe'"),
        (6, "unknown directive 'foo'"),
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("autojoin sometimes", "autojoin: expected none or other or any, not 'sometimes'"),
        ("hbgenmethod clock", "hbgenmethod: expected file or time, not 'clock'"),
        ("uuidfrom mac", "uuidfrom: expected file or nodename, not 'mac'"),
        ("msgfmt xml", "msgfmt: expected classic or netstring, not 'xml'"),
        ("compression lzma", "compression: expected zlib or bz2, not 'lzma'"),
        ("logfacility local9", "logfacility: unknown syslog facility 'local9'"),
        (
            "realtime perhaps",
            "realtime: expected a boolean (on/off, yes/no, true/false, 1/0), not 'perhaps'",
        ),
        ("debug 256", "debug: 256 is out of range (0..255)"),
        ("memreserve 0", "memreserve: 0 is out of range (at least 1)"),
        ("max_rexmit_delay soon", "max_rexmit_delay: expected milliseconds, not 'soon'"),
        (
            "udpport 70000",
            "udpport: invalid port '70000' (a number 1..65535 or a UDP service name)",
        ),
        (
            "udpport no-such-service",
            "udpport: invalid port 'no-such-service' (a number 1..65535 or a UDP service name)",
        ),
        (
            "baud 14400",
            "baud: unsupported speed 14400 (one of 9600, 19200, 38400, 57600, 115200, 230400, 460800)",
        ),
        ("env NOEQUALS", "env: expected NAME=value, not 'NOEQUALS'"),
        (
            "respawn hacluster",
            "respawn: expected a user and a command (respawn <user> <full path> [args])",
        ),
        ("respawn hacluster bin/ipfail", "respawn: command 'bin/ipfail' is not a full path name"),
        ("apiauth ipfail", "apiauth: client 'ipfail' needs uid=LIST and/or gid=LIST"),
        ("apiauth ipfail user=x", "apiauth: expected uid=LIST or gid=LIST, not 'user=x'"),
        ("apiauth ipfail uid=a uid=b", "apiauth: uid list given twice for client 'ipfail'"),
        ("apiauth ipfail uid=a,,b", "apiauth: empty name in uid list 'a,,b'"),
        (
            "failfast hacluster /bin/true",
            "failfast: failfast clients (reboot when they die) are not supported yet",
        ),
        ("use_apphbd yes", "use_apphbd: registering with apphbd is not supported yet"),
        ("ping6 192.0.2.1", "ping6: '192.0.2.1' is an IPv4 address (use ping for IPv4)"),
    ],
)
def test_bad_values(tmp_path: Path, line: str, message: str) -> None:
    """Each bad or refused value is one error naming the directive, at its line."""
    assert errors(tmp_path, BASE + line + "\n") == [(4, message)]


def test_typed_values(tmp_path: Path) -> None:
    """The less common directives are stored as typed values."""
    hacf = load(
        tmp_path,
        BASE + "msgfmt netstring\nmax_rexmit_delay 100ms\nuuidfrom nodename\nhopfudge 3\n"
        "memreserve 1000\nrtprio 5\ncoredumps no\ncoreroot /var/lib/cores\n"
        "traditional_compression yes\nlog_badpack off\nsyslogmsgfmt false\ncluster prod\n"
        "quorum_server q.example\nlogfacility none\nuse_logd on\n",
    ).hacf
    assert (hacf.msgfmt, hacf.max_rexmit_delay_ms, hacf.uuidfrom) == ("netstring", 100, "nodename")
    assert (hacf.hopfudge, hacf.memreserve_kb, hacf.rtprio) == (3, 1000, 5)
    assert (hacf.coredumps, hacf.coreroot) == (False, "/var/lib/cores")
    assert (hacf.traditional_compression, hacf.log_badpack) == (True, False)
    assert (hacf.log.syslogmsgfmt, hacf.log.facility, hacf.log.use_logd) == (False, "none", True)
    assert (hacf.cluster, hacf.quorum_server) == ("prod", "q.example")


def test_booleans_any_case(tmp_path: Path) -> None:
    """Booleans are true/on/yes/y/1 and false/off/no/n/0 in any letter case."""
    for word, value in [("Y", True), ("TRUE", True), ("1", True), ("No", False), ("OFF", False)]:
        assert load(tmp_path, BASE + f"realtime {word}\n").hacf.realtime is value


def test_env_and_respawn_arguments(tmp_path: Path) -> None:
    """env takes NAME=value words (HA_NAME for clients); respawn keeps its arguments."""
    hacf = load(
        tmp_path, BASE + "env A=1 B=x=y\nrespawn hacluster /usr/lib/heartbeat/ipfail -v now\n"
    ).hacf
    assert hacf.env == (("A", "1"), ("B", "x=y"))
    assert hacf.environment() == {"HA_A": "1", "HA_B": "x=y"}
    assert hacf.respawn[0].args == ("-v", "now")
    assert hacf.respawn[0].command == "/usr/lib/heartbeat/ipfail -v now"


def test_apiauth_overrides_builtins(tmp_path: Path) -> None:
    """apiauth entries replace Heartbeat's built-in authorization of the same client only."""
    hacf = load(tmp_path, BASE + "apiauth ping uid=alanr,root\napiauth mine gid=haclient\n").hacf
    table = hacf.api_authorization()
    assert table["ping"].uids == ("alanr", "root")
    assert table["ping"].gids == ()
    assert table["mine"].gids == ("haclient",)
    assert table["ipfail"].uids == ("hacluster",)


def test_apiauth_twice_is_an_error(tmp_path: Path) -> None:
    """A second apiauth line for one client is refused, naming the first one."""
    assert errors(tmp_path, BASE + "apiauth x uid=a\napiauth x gid=b\n") == [
        (5, "apiauth: client 'x' already has an apiauth line (line 4)")
    ]


def test_duplicate_node_warns_and_is_dropped(tmp_path: Path) -> None:
    """A node listed twice is kept once, with a warning at the repeat."""
    config = load(tmp_path, BASE + "node ALPHA\n")
    assert config.hacf.nodes == ("alpha", "beta")
    assert warnings(config) == [(4, "node 'alpha' is listed twice (first on line 2); ignored")]


def test_too_many_nodes(tmp_path: Path) -> None:
    """The 101st node is refused (Heartbeat's MAXNODE is 100)."""
    nodes = "".join(f"node n{number}\n" for number in range(101))
    assert errors(tmp_path, "bcast lo\nauto_failback on\n" + nodes, node="n0") == [
        (103, "node: too many nodes (at most 100)")
    ]


def test_node_name_too_long(tmp_path: Path) -> None:
    """A node name longer than 99 bytes is refused."""
    assert errors(tmp_path, BASE + f"node {'x' * 100}\n") == [
        (4, f"node: node name '{'x' * 57}\u2026' is longer than 99 bytes")
    ]


def test_no_nodes_no_media(tmp_path: Path) -> None:
    """Without node and media lines the file itself is blamed (no line number)."""
    assert errors(tmp_path, "auto_failback on\n") == [
        (None, "no nodes defined (node directive)"),
        (None, "no heartbeat media defined (bcast, mcast, mcast6, ucast, ucast6 or serial)"),
    ]


def test_local_node_must_be_listed(tmp_path: Path) -> None:
    """The local node has to be one of the node lines."""
    assert errors(tmp_path, BASE, node="delta") == [
        (
            None,
            "local node 'delta' is not in the node list"
            " (node names are `uname -n`, or the first line of nodeinfo)",
        )
    ]


@pytest.mark.parametrize("mode", ["other", "any"])
def test_autojoin_conflicts_with_haresources(tmp_path: Path, mode: str) -> None:
    """autojoin other/any is refused: Heartbeat only allows it with Pacemaker."""
    assert errors(tmp_path, BASE + f"autojoin {mode}\n") == [
        (
            4,
            f"autojoin {mode} conflicts with haresources resource management:"
            " Heartbeat allows it only with Pacemaker (crm), which hbtwist does not support",
        )
    ]


def test_autojoin_none_is_accepted(tmp_path: Path) -> None:
    """autojoin none is the default behaviour and is accepted."""
    assert load(tmp_path, BASE + "autojoin NONE\n").hacf.autojoin == "none"


@pytest.mark.parametrize("line", ["crm on", "crm respawn", "pacemaker yes", "pacemaker minimal"])
def test_pacemaker_refused(tmp_path: Path, line: str) -> None:
    """crm/pacemaker other than off is refused with the haresources hint."""
    directive = line.split()[0]
    assert errors(tmp_path, BASE + line + "\n") == [
        (4, f"{directive}: Pacemaker (crm) is not supported by hbtwist; use haresources (crm off)")
    ]


def test_crm_off_accepted_once(tmp_path: Path) -> None:
    """crm off is accepted; a second crm/pacemaker line is an error, as in Heartbeat."""
    assert load(tmp_path, BASE + "crm off\n").hacf.parameter("pacemaker") == "off"
    assert errors(tmp_path, BASE + "crm off\npacemaker no\n") == [
        (5, "pacemaker: pacemaker/crm given more than once (first on line 4)")
    ]


def test_pacemaker_pass_through_directives_warn(tmp_path: Path) -> None:
    """Pacemaker-only directives are accepted with a warning that they have no effect."""
    config = load(tmp_path, BASE + "crm_daemon_dir /usr/lib/pacemaker\nrecord_pengine_inputs off\n")
    assert warnings(config) == [
        (4, "crm_daemon_dir has no effect: it only configures Pacemaker, which hbtwist does not run"),
        (
            5,
            "record_pengine_inputs has no effect: it only configures Pacemaker,"
            " which hbtwist does not run",
        ),
    ]


def test_crm_daemon_dir_after_crm(tmp_path: Path) -> None:
    """crm_daemon_dir must precede the crm/pacemaker line, as in Heartbeat."""
    assert errors(tmp_path, BASE + "crm off\ncrm_daemon_dir /x\n") == [
        (5, "crm_daemon_dir: must come before the pacemaker/crm directive (line 4)")
    ]


def test_auto_failback_legacy_warns(tmp_path: Path) -> None:
    """auto_failback legacy, explicit or by default, is accepted with a deprecation warning."""
    explicit = load(tmp_path, "bcast lo\nnode alpha\nauto_failback legacy\n")
    assert explicit.hacf.auto_failback is AutoFailback.LEGACY
    assert warnings(explicit) == [(3, "auto_failback legacy is deprecated; set auto_failback on or off")]
    default = load(tmp_path, "bcast lo\nnode alpha\n")
    assert default.hacf.auto_failback is AutoFailback.LEGACY
    assert warnings(default) == [
        (
            None,
            "auto_failback is not set and defaults to the deprecated legacy mode;"
            " set auto_failback on or off",
        )
    ]


def test_nice_failback_maps_like_heartbeat(tmp_path: Path) -> None:
    """nice_failback warns; like Heartbeat it gives legacy, or off after an auto_failback line."""
    alone = load(tmp_path, "bcast lo\nnode alpha\nnice_failback on\n")
    assert alone.hacf.auto_failback is AutoFailback.LEGACY
    assert warnings(alone)[0] == (
        3,
        "nice_failback is obsolete (use auto_failback on, off or legacy); as in Heartbeat,"
        " 'nice_failback on' here means 'auto_failback legacy'",
    )
    after = load(tmp_path, "bcast lo\nnode alpha\nauto_failback on\nnice_failback on\n")
    assert after.hacf.auto_failback is AutoFailback.OFF


def test_udp_alias(tmp_path: Path) -> None:
    """The legacy `udp` directive is read as bcast, with a warning."""
    config = load(tmp_path, "udp lo\nnode alpha\nauto_failback on\n")
    assert config.hacf.media == (BcastMedium("lo", 694),)
    assert warnings(config) == [(1, "directive 'udp' is an old name for 'bcast'")]


def test_setting_repeated_warns(tmp_path: Path) -> None:
    """A setting given twice warns, and the last value counts."""
    config = load(tmp_path, BASE + "hopfudge 2\nhopfudge 3\n")
    assert config.hacf.hopfudge == 3
    assert warnings(config) == [(5, "hopfudge is set again (earlier on line 4); the last value counts")]


def test_nowhere_to_log(tmp_path: Path) -> None:
    """use_logd off without logfile, debugfile or logfacility is an error, as in Heartbeat."""
    assert errors(tmp_path, BASE + "use_logd off\n") == [
        (4, "no logfile, debugfile or logfacility, and use_logd is off: nowhere to log")
    ]


def test_parameters_getparm(tmp_path: Path) -> None:
    """parameter() gives values as written, else Heartbeat's (computed) defaults."""
    hacf = load(tmp_path, BASE + "deadtime 10\nkeepalive 500ms\n").hacf
    assert hacf.parameter("deadtime") == "10"
    assert hacf.parameter("keepalive") == "500ms"
    assert hacf.parameter("warntime") == "5000ms"
    assert hacf.parameter("initdead") == "20000ms"
    assert hacf.parameter("deadping") == "10000ms"
    assert hacf.parameter("udpport") == "694"
    assert hacf.parameter("use_logd") == "yes"
    assert hacf.parameter("baud") == "19200"
    assert hacf.parameter("node") is None


def test_ha_cf_missing(tmp_path: Path) -> None:
    """A missing ha.cf is a problem naming its path."""
    directory = write(tmp_path / "ha.d", "")
    (directory / "ha.cf").unlink()
    with pytest.raises(ConfigError) as raised:
        load_config(directory, local_node="alpha")
    assert raised.value.problems == (Problem(str(directory / "ha.cf"), None, "file not found"),)
