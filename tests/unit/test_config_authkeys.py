"""authkeys (spec section 2.1): permissions, `auth N` before its key, methods, keys, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from hbtwist.config import ClusterConfig, ConfigError, load_config
from hbtwist.wire.auth import AuthKey, AuthMethod

HA_CF = "bcast lo\nnode alpha\nauto_failback on\n"
SYNTAX = "expected 'auth N' or 'N method [key]'; the line is not shown, it may hold a key"


def write(tmp_path: Path, authkeys: str | bytes, mode: int = 0o600) -> Path:
    """A configuration directory with a valid ha.cf and `authkeys` at permission `mode`."""
    directory = tmp_path / "ha.d"
    directory.mkdir(exist_ok=True)
    (directory / "ha.cf").write_text(HA_CF)
    keys = directory / "authkeys"
    keys.write_bytes(authkeys.encode() if isinstance(authkeys, str) else authkeys)
    keys.chmod(mode)
    return directory


def load(tmp_path: Path, authkeys: str | bytes, mode: int = 0o600) -> ClusterConfig:
    """Load the directory `write` makes, as node alpha."""
    return load_config(write(tmp_path, authkeys, mode), local_node="alpha")


def errors(tmp_path: Path, authkeys: str, mode: int = 0o600) -> list[tuple[int | None, str]]:
    """The (line, message) of the problems, after checking they all name authkeys."""
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, authkeys, mode)
    assert {problem.path for problem in raised.value.problems} == {str(tmp_path / "ha.d" / "authkeys")}
    return [(problem.line, problem.message) for problem in raised.value.problems]


def test_keyring(tmp_path: Path) -> None:
    """The spec's example gives a keyring sending with key 1 and accepting keys 1, 2 and 3."""
    text = "# keys\nauth 1\n1 sha1 SomeSecret\n\n  2 md5 OtherSecret\n3 crc\n"
    keyring = load(tmp_path, text).keyring
    assert keyring.send_index == 1
    assert dict(keyring.keys) == {
        1: AuthKey(1, AuthMethod.SHA1, b"SomeSecret"),
        2: AuthKey(2, AuthMethod.MD5, b"OtherSecret"),
        3: AuthKey(3, AuthMethod.CRC),
    }


def test_key_bytes_kept_exactly(tmp_path: Path) -> None:
    """A key with non-UTF-8 bytes and CRLF line ends is kept byte for byte."""
    keyring = load(tmp_path, b"auth 0\r\n0 sha1 s\xe9cr\xffet\r\n").keyring
    assert keyring.sending_key.secret == b"s\xe9cr\xffet"


def test_group_readable_refused(tmp_path: Path) -> None:
    """Mode 0644 is refused, naming the file and its mode, with mode 600 required."""
    assert errors(tmp_path, "auth 1\n1 sha1 x\n", mode=0o644) == [
        (None, "readable by group or others (mode 0644): it must not be; mode 600 required")
    ]


def test_owner_read_only_accepted(tmp_path: Path) -> None:
    """Mode 0400 (and group/other write bits, which Heartbeat ignores) are accepted."""
    assert load(tmp_path, "auth 1\n1 sha1 x\n", mode=0o400).keyring.send_index == 1
    assert load(tmp_path, "auth 1\n1 sha1 x\n", mode=0o622).keyring.send_index == 1


def test_auth_after_key_refused(tmp_path: Path) -> None:
    """`auth N` after the key line it names is refused, as Heartbeat does."""
    assert errors(tmp_path, "1 sha1 secret\nauth 1\n") == [
        (
            2,
            "auth key 1 not found after the auth line (key 1 is on line 1;"
            " 'auth 1' must come before it)",
        )
    ]


def test_auth_key_missing(tmp_path: Path) -> None:
    """`auth N` without a key N is refused at the auth line."""
    assert errors(tmp_path, "auth 2\n1 sha1 secret\n") == [(1, "auth key 2 not found")]


def test_missing_auth_directive(tmp_path: Path) -> None:
    """Keys without an auth line are refused."""
    assert errors(tmp_path, "1 sha1 secret\n") == [
        (None, "missing auth directive ('auth N' before the key lines)")
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "auth 1\n1 sha256 x\n",
            (2, "key 1: unknown authentication method (crc, md5 or sha1)"),
        ),
        ("auth 1\n1 SHA1 x\n", (2, "key 1: method names are lower-case (crc, md5 or sha1)")),
        ("auth 1\n1 crc x\n", (2, "key 1: crc takes no key")),
        ("auth 1\n1 md5\n", (2, "key 1: md5 needs a key")),
        ("auth 1\n1 sha1\n", (2, "key 1: sha1 needs a key")),
        ("auth 16\n1 sha1 x\n", (1, "auth 16: key index must be 0..15")),
        ("auth one\n", (1, "invalid auth line (expected 'auth N')")),
        ("authorize 1\n", (1, "invalid auth line (expected 'auth N')")),
        ("auth 1\nsha1 x\n", (2, f"invalid line ({SYNTAX})")),
        ("auth 1\n1\n", (2, f"invalid line ({SYNTAX})")),
    ],
)
def test_bad_lines(tmp_path: Path, text: str, expected: tuple[int, str]) -> None:
    """Each bad line is one error at its line, with no follow-on error about the sending key."""
    assert errors(tmp_path, text) == [expected]


def test_key_index_range(tmp_path: Path) -> None:
    """Key indices are 0..15."""
    assert errors(tmp_path, "auth 1\n1 sha1 x\n16 sha1 y\n") == [(3, "key index 16 is outside 0..15")]


def test_duplicate_index(tmp_path: Path) -> None:
    """A key index defined twice is refused."""
    assert errors(tmp_path, "auth 1\n1 sha1 x\n1 md5 y\n") == [
        (3, "key 1 is defined twice (first on line 2)")
    ]


def test_auth_twice(tmp_path: Path) -> None:
    """Two auth lines are refused: which key signs would depend on their order."""
    assert errors(tmp_path, "auth 1\nauth 2\n1 sha1 x\n2 sha1 y\n") == [
        (2, "auth given again (first on line 1)")
    ]


def test_all_problems_reported(tmp_path: Path) -> None:
    """Permission and line problems are all reported together."""
    assert errors(tmp_path, "auth 1\n1 sha256 x\n2 crc y\n", mode=0o640) == [
        (2, "key 1: unknown authentication method (crc, md5 or sha1)"),
        (3, "key 2: crc takes no key"),
        (None, "readable by group or others (mode 0640): it must not be; mode 600 required"),
    ]


def test_text_after_key_warns(tmp_path: Path) -> None:
    """Only the word after the method is the key; the rest is ignored with a warning."""
    config = load(tmp_path, "auth 1\n1 sha1 two words\n")
    assert config.keyring.sending_key.secret == b"two"
    assert [(w.line, w.message) for w in config.warnings] == [
        (2, "key 1: text after the key is ignored")
    ]


def test_crc_sending_warns(tmp_path: Path) -> None:
    """Sending with crc is accepted with a warning that nothing is authenticated."""
    config = load(tmp_path, "auth 3\n3 crc\n")
    assert config.keyring.sending_key.method is AuthMethod.CRC
    assert [(w.line, w.message) for w in config.warnings] == [
        (
            2,
            "key 3 (the sending key) uses crc, which authenticates nothing: anyone on the"
            " network can forge packets this cluster accepts; use sha1",
        )
    ]


def test_crc_accepted_key_warns(tmp_path: Path) -> None:
    """A crc key that is not the sending one still warns: incoming packets may use any key."""
    config = load(tmp_path, "auth 1\n1 sha1 secret\n2 crc\n")
    assert config.keyring.sending_key.method is AuthMethod.SHA1
    assert [(w.line, w.message) for w in config.warnings] == [
        (
            3,
            "key 2 uses crc, which authenticates nothing: every listed key is accepted on"
            " incoming packets, so anyone on the network can inject packets this node accepts;"
            " remove the line or use sha1",
        )
    ]


@pytest.mark.parametrize(
    "text",
    [
        "auth 1\n1sha1 MyTopSecret\n",
        "auth 1\n1 MyTopSecret\n",
        "auth 1\n1 crc MyTopSecret\n",
        "authMyTopSecret\n1 sha1 x\n",
        "auth 1\n1 sha1 x\n1 md5 MyTopSecret\n",
    ],
)
def test_secrets_never_shown(tmp_path: Path, text: str) -> None:
    """No problem reported about a bad authkeys line quotes any of its text."""
    assert not any("MyTopSecret" in message for _, message in errors(tmp_path, text))


def test_auth_without_blank(tmp_path: Path) -> None:
    """`auth1` is read as `auth 1`, as Heartbeat's sscanf does."""
    assert load(tmp_path, "auth1\n1 sha1 x\n").keyring.send_index == 1


def test_authkeys_missing(tmp_path: Path) -> None:
    """A missing authkeys is a problem naming its path."""
    directory = write(tmp_path, "")
    (directory / "authkeys").unlink()
    with pytest.raises(ConfigError) as raised:
        load_config(directory, local_node="alpha")
    assert [str(problem) for problem in raised.value.problems] == [
        f"{directory / 'authkeys'}: file not found"
    ]
