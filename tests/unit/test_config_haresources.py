"""haresources (spec section 8.4): groups, continuations, IP shorthand, resource syntax, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from hbtwist.config import ClusterConfig, ConfigError, Resource, ResourceGroup, load_config

HA_CF = "bcast lo\nnode alpha beta\nauto_failback on\n"


def write(tmp_path: Path, haresources: str | None) -> Path:
    """A configuration directory with a valid ha.cf and authkeys, and `haresources` if given."""
    directory = tmp_path / "ha.d"
    directory.mkdir(exist_ok=True)
    (directory / "ha.cf").write_text(HA_CF)
    keys = directory / "authkeys"
    keys.write_text("auth 1\n1 sha1 secret\n")
    keys.chmod(0o600)
    if haresources is not None:
        (directory / "haresources").write_text(haresources)
    return directory


def load(tmp_path: Path, haresources: str | None) -> ClusterConfig:
    """Load the directory `write` makes, as node alpha."""
    return load_config(write(tmp_path, haresources), local_node="alpha")


def errors(tmp_path: Path, haresources: str) -> list[tuple[int | None, str]]:
    """The (line, message) of the problems, after checking they all name haresources."""
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, haresources)
    assert {problem.path for problem in raised.value.problems} == {
        str(tmp_path / "ha.d" / "haresources")
    }
    return [(problem.line, problem.message) for problem in raised.value.problems]


def test_groups(tmp_path: Path) -> None:
    """Each line is a group: preferred node (lower-cased) and resources in order."""
    config = load(
        tmp_path,
        "# two groups\nAlpha 192.0.2.10 httpd\n\nbeta\tIPaddr2::192.0.2.20/24/eth0:web "
        "Filesystem::/dev/sda1::/data1::ext2 OCF::apache::web1\n",
    )
    path = str(tmp_path / "ha.d" / "haresources")
    assert config.resources == (
        ResourceGroup(
            "alpha",
            (Resource("IPaddr", ("192.0.2.10",), "192.0.2.10"), Resource("httpd", (), "httpd")),
            (path, 2),
        ),
        ResourceGroup(
            "beta",
            (
                Resource("IPaddr2", ("192.0.2.20/24/eth0:web",), "IPaddr2::192.0.2.20/24/eth0:web"),
                Resource(
                    "Filesystem", ("/dev/sda1", "/data1", "ext2"), "Filesystem::/dev/sda1::/data1::ext2"
                ),
                Resource("OCF", ("apache", "web1"), "OCF::apache::web1"),
            ),
            (path, 4),
        ),
    )
    assert [group.key for group in config.resources] == ["192.0.2.10", "IPaddr2::192.0.2.20/24/eth0:web"]


def test_missing_file_means_no_groups(tmp_path: Path) -> None:
    """Without haresources there are no resource groups and no problem."""
    assert load(tmp_path, None).resources == ()


def test_continuation_lines(tmp_path: Path) -> None:
    """A line ending in a backslash continues on the next; the group keeps its first line number."""
    config = load(tmp_path, "# x\nalpha 192.0.2.10 \\\n    httpd \\\n    smb # comment\nbeta nfs\n")
    assert [(group.location[1], [r.text for r in group.resources]) for group in config.resources] == [
        (2, ["192.0.2.10", "httpd", "smb"]),
        (5, ["nfs"]),
    ]


def test_unknown_node(tmp_path: Path) -> None:
    """A preferred node missing from ha.cf is an error naming it, at its line."""
    assert errors(tmp_path, "alpha httpd\nnode9 smb\n") == [(2, "unknown node 'node9'")]


def test_duplicate_key(tmp_path: Path) -> None:
    """The first resource is the group key and must be unique."""
    assert errors(tmp_path, "alpha 192.0.2.10 httpd\nbeta 192.0.2.10 smb\n") == [
        (2, "duplicate group key '192.0.2.10' (first on line 1)")
    ]


def test_node_without_resources(tmp_path: Path) -> None:
    """A line with a node and no resource is an error."""
    assert errors(tmp_path, "alpha\n") == [(1, "no resources for node 'alpha'")]


@pytest.mark.parametrize(
    "word",
    [
        "192.0.2.10",
        "192.0.2.10/24",
        "192.0.2.10/24/eth0",
        "192.0.2.10/24/eth0/192.0.2.255",
        "192.0.2.10/24/192.0.2.255",
        "192.0.2.10/255.255.255.0",
        "192.0.2.10//eth0",
        "IPaddr::192.0.2.10/24/eth0",
        "IPaddr2::192.0.2.10/24/eth0:0/192.0.2.255",
    ],
)
def test_ip_forms(tmp_path: Path, word: str) -> None:
    """Heartbeat's IPaddr/IPaddr2 argument forms are accepted."""
    assert load(tmp_path, f"alpha {word}\n").resources[0].resources[0].text == word


@pytest.mark.parametrize(
    ("word", "message"),
    [
        ("192.0.2.300", "invalid IPv4 address '192.0.2.300'"),
        ("192.0.2.10/33", "invalid netmask '33' (1..32 bits)"),
        ("192.0.2.10/255.0.255.0", "invalid netmask '255.0.255.0'"),
        (
            "192.0.2.10/24/eth0/192.0.2.255/x",
            "too many parts in '192.0.2.10/24/eth0/192.0.2.255/x' (IPaddr::ip[/bits[/nic[/broadcast]]])",
        ),
        (
            "192.0.2.10/24/192.0.2.255/eth0",
            "a broadcast address must be the last part (IPaddr::ip[/bits[/nic[/broadcast]]])",
        ),
        ("192.0.2.10/24/eth0:1", "invalid network interface name 'eth0:1'"),
        ("IPaddr2::192.0.2.10/24/eth0:", "empty label in 'eth0:'"),
        ("IPaddr::192.0.2.10::x", "expected one argument: IPaddr::ip[/bits[/nic[/broadcast]]]"),
        ("IPaddr", "expected one argument: IPaddr::ip[/bits[/nic[/broadcast]]]"),
        ("OCF::apache", "expected OCF::<agent type>::<instance name>"),
        ("::x", "empty script name"),
        ("../bin/sh::x", "script name '../bin/sh' must not contain '/'"),
    ],
)
def test_bad_resources(tmp_path: Path, word: str, message: str) -> None:
    """A malformed resource is an error naming it, at its line."""
    assert errors(tmp_path, f"beta smb\nalpha {word}\n") == [(2, f"resource {word!r}: {message}")]


def test_all_problems_reported(tmp_path: Path) -> None:
    """Every bad line of haresources is reported."""
    assert errors(tmp_path, "gamma x\nalpha OCF::a\nalpha OCF::a::b\nbeta OCF::a::b\n") == [
        (1, "unknown node 'gamma'"),
        (2, "resource 'OCF::a': expected OCF::<agent type>::<instance name>"),
        (4, "duplicate group key 'OCF::a::b' (first on line 3)"),
    ]


def test_binary_line_is_not_text(tmp_path: Path) -> None:
    """A line of binary data is one short error saying it is not text."""
    directory = write(tmp_path, "alpha httpd\n")
    with (directory / "haresources").open("ab") as stream:
        stream.write(bytes(range(128, 256)) * 20 + b"\n")
    with pytest.raises(ConfigError) as raised:
        load_config(directory, local_node="alpha")
    [problem] = raised.value.problems
    assert problem.line == 2
    assert problem.message.startswith("the line is not text (binary data, or not UTF-8): '")
    assert len(problem.message) < 120


def test_broken_node_line_does_not_blame_groups(tmp_path: Path) -> None:
    """When a node line of ha.cf could not be read, groups are not refused for unknown nodes."""
    directory = write(tmp_path, "beta httpd\n")
    (directory / "ha.cf").write_text("bcast lo\nnode alpha\nnod beta\nauto_failback on\n")
    with pytest.raises(ConfigError) as raised:
        load_config(directory, local_node="alpha")
    assert [(Path(p.path).name, p.line) for p in raised.value.problems] == [("ha.cf", 3)]
