"""ha.cf's ping, ping6 and ping_group lines: ping nodes, their addresses, and their errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from hbtwist.config import ConfigError, load_config
from hbtwist.config.media import Ping6Medium, PingGroupMedium, PingMedium, ping_nodes
from tests.conftest import write_config

BASE = """\
keepalive 1
deadtime 10
deadping 5
auto_failback on
ucast lo 127.0.0.1
node alpha beta
"""


def load(tmp_path: Path, extra: str) -> tuple[PingMedium, ...]:
    """The ping media of BASE plus `extra`, loaded as alpha."""
    write_config(tmp_path / "ha.d", ha_cf=BASE + extra)
    hacf = load_config(tmp_path / "ha.d", local_node="alpha").hacf
    return tuple(medium for medium in hacf.media if isinstance(medium, PingMedium))


def errors(tmp_path: Path, extra: str) -> list[str]:
    """The problems (as printed) of BASE plus `extra`."""
    write_config(tmp_path / "ha.d", ha_cf=BASE + extra)
    with pytest.raises(ConfigError) as raised:
        load_config(tmp_path / "ha.d", local_node="alpha")
    return [str(problem) for problem in raised.value.problems]


def test_each_ping_host_and_group_is_a_ping_node(tmp_path: Path) -> None:
    """`ping a b` makes two ping nodes, `ping6` one, `ping_group` one named after the group,
    each its own link, in ha.cf order."""
    media = load(
        tmp_path,
        "ping 192.0.2.1 Gateway.example\nping6 2001:DB8::1\nping_group Uplinks 192.0.2.2 192.0.2.3\n",
    )
    assert media == (
        PingMedium("192.0.2.1", ("192.0.2.1",)),
        PingMedium("gateway.example", ("Gateway.example",)),
        Ping6Medium("2001:db8::1", ("2001:db8::1",)),
        PingGroupMedium("uplinks", ("192.0.2.2", "192.0.2.3")),
    )
    assert ping_nodes(media) == ("192.0.2.1", "gateway.example", "2001:db8::1", "uplinks")
    assert [medium.name for medium in media] == list(ping_nodes(media))
    assert media[3].describe() == "ping_group uplinks: 192.0.2.2 192.0.2.3"
    assert [medium.location[1] for medium in media] == [7, 7, 8, 9]


def test_deadping_is_the_ping_nodes_deadtime(tmp_path: Path) -> None:
    """deadping is read as before; the daemon's timing carries it for ping nodes."""
    from hbtwist.daemon.node import timing_of

    write_config(tmp_path / "ha.d", ha_cf=BASE + "ping 192.0.2.1\n")
    config = load_config(tmp_path / "ha.d", local_node="alpha")
    assert timing_of(config).ping_deadtime_ms == 5000


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("ping 192.0.2.300", "ping: invalid IPv4 address '192.0.2.300'"),
        ("ping 2001:db8::1", "ping: '2001:db8::1' is not an IPv4 address or host name (use ping6"),
        ("ping bad_host!", "ping: invalid host name 'bad_host!'"),
        ("ping6 2001:db8::zz", "ping6: invalid IPv6 address '2001:db8::zz'"),
        ("ping6 192.0.2.1", "ping6: '192.0.2.1' is an IPv4 address (use ping for IPv4)"),
        ("ping_group uplinks", "ping_group: expected a group name and at least one host"),
        ("ping_group uplinks 192.0.2.1 10.1", "ping_group: invalid IPv4 address '10.1'"),
        ("ping beta", "ping: ping node 'beta' is also a cluster node"),
        ("ping 192.0.2.1\nping 192.0.2.1", "ping: ping node '192.0.2.1' is already defined on line 7"),
    ],
)
def test_bad_ping_lines_are_errors_at_their_line(tmp_path: Path, line: str, message: str) -> None:
    """A bad address, a group without hosts, or a ping node named like another node is an
    error FILE:LINE: directive: reason."""
    found = errors(tmp_path, line + "\n")
    last_line = 6 + line.count("\n") + 1
    assert any(f"ha.cf:{last_line}: {message}" in problem for problem in found), found


def test_ping_nodes_count_towards_the_node_limit(tmp_path: Path) -> None:
    """Nodes and ping nodes together are at most 100, as Heartbeat's MAXNODE."""
    nodes = " ".join(f"n{number}" for number in range(97))
    found = errors(tmp_path, f"node {nodes}\nping 192.0.2.1 192.0.2.2\n")
    assert any("too many nodes (at most 100, ping nodes included)" in line for line in found)
