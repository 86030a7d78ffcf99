"""The SSH manhole: key files and host key in process, logins end to end against a subprocess."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paramiko
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from twisted.conch.ssh import keys
from twisted.cred.credentials import ISSHPrivateKey
from twisted.internet import error
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import LogLevel, capturedLogs, formatEvent

from hbtwist.control.manhole import (
    AuthorizedKeysFile,
    ManholeError,
    fingerprint,
    host_key,
    manhole_namespace,
    manhole_service,
    read_authorized_keys,
)
from tests.doubles.node import FakeClusterNode, peer, snapshot
from tests.prereq import require

SERVER = """\
import sys
from twisted.internet import reactor
from twisted.logger import globalLogBeginner, textFileLogObserver
from hbtwist.control.manhole import manhole_service

globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stderr)])
endpoint, authorized_keys, host_key_path = sys.argv[1:]
manhole = manhole_service({"answer": 42}, endpoint, authorized_keys, host_key_path, reactor)
manhole.startService()
reactor.addSystemEventTrigger("before", "shutdown", manhole.stopService)
reactor.run()
"""


@dataclass
class ClientKey:
    """A client key pair: the private key file (mode 0600) and the authorized_keys line."""

    path: Path
    public_line: bytes


def make_client_key(path: Path) -> ClientKey:
    """A new ed25519 key pair, the private half written to `path` in OpenSSH format."""
    private = ed25519.Ed25519PrivateKey.generate()
    path.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    public = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return ClientKey(path, public + b" operator@test")


def make_public_line() -> bytes:
    """The authorized_keys line of a new ed25519 key."""
    public = ed25519.Ed25519PrivateKey.generate().public_key()
    return public.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)


class BusyReactor(MemoryReactorClock):
    """A reactor on which every TCP port is already in use."""

    def listenTCP(self, port: int, factory: object, backlog: int = 50, interface: str = "") -> object:  # noqa: N802
        raise error.CannotListenError(interface, port, OSError(98, "Address already in use"))


@pytest.fixture
def client_key(tmp_path: Path) -> ClientKey:
    """The key the authorized_keys file lists."""
    return make_client_key(tmp_path / "id_operator")


@pytest.fixture
def stranger_key(tmp_path: Path) -> ClientKey:
    """A key nobody authorized."""
    return make_client_key(tmp_path / "id_stranger")


@pytest.fixture
def authorized_keys(tmp_path: Path, client_key: ClientKey) -> Path:
    """An authorized_keys file (mode 0600) listing only `client_key`."""
    path = tmp_path / "authorized_keys"
    path.write_bytes(b"# operators\n\n" + client_key.public_line + b"\n")
    path.chmod(0o600)
    return path


# In process: key files, host key and the service's shape (no reactor runs)


def test_authorized_keys_are_read_and_odd_lines_skipped(tmp_path: Path, client_key: ClientKey) -> None:
    """Comments and blanks are ignored; option-prefixed and garbage lines are reported unused."""
    path = tmp_path / "keys"
    path.write_bytes(
        b"# comment\n\n"
        + client_key.public_line
        + b'\nfrom="10.0.0.1" '
        + client_key.public_line
        + b"\nssh-ed25519 not-base64!\n{lsh}\n"
    )
    path.chmod(0o644)
    found, unused = read_authorized_keys(str(path))
    assert found == [keys.Key.fromString(client_key.public_line)]
    assert unused == [4, 5, 6]


def test_unsafe_or_missing_authorized_keys_are_refused(tmp_path: Path, authorized_keys: Path) -> None:
    """A group- or world-writable, missing or empty keys file is a ManholeError."""
    authorized_keys.chmod(0o620)
    with pytest.raises(ManholeError, match="writable by others"):
        read_authorized_keys(str(authorized_keys))
    with pytest.raises(ManholeError, match="cannot read"):
        read_authorized_keys(str(tmp_path / "absent"))
    empty = tmp_path / "empty"
    empty.write_text("# nobody yet\n")
    with pytest.raises(ManholeError, match="no usable public key"):
        manhole_service({}, "tcp:0", str(empty), str(tmp_path / "host"), MemoryReactorClock())


def test_authorized_keys_are_read_again_at_each_login(
    authorized_keys: Path, stranger_key: ClientKey
) -> None:
    """Editing the keys file takes effect at the next login, without a restart."""
    database = AuthorizedKeysFile(str(authorized_keys))
    assert database.check() == 1
    authorized_keys.write_bytes(stranger_key.public_line + b"\n")
    assert list(database.getAuthorizedKeys(b"anyone")) == [keys.Key.fromString(stranger_key.public_line)]
    authorized_keys.chmod(0o666)
    assert list(database.getAuthorizedKeys(b"anyone")) == []


def test_host_key_is_made_once_with_mode_0600(tmp_path: Path) -> None:
    """The first call writes a private ed25519 key with mode 0600; later calls reuse it."""
    path = tmp_path / "manhole_host_key"
    first = host_key(str(path))
    assert path.stat().st_mode & 0o777 == 0o600
    assert first.type() == "Ed25519" and not first.isPublic()
    content = path.read_bytes()
    assert host_key(str(path)) == first
    assert path.read_bytes() == content
    assert [entry.name for entry in tmp_path.iterdir()] == ["manhole_host_key"]


def test_exposed_or_bogus_host_key_is_refused(tmp_path: Path) -> None:
    """A host key readable by others, or not a private key, is a ManholeError."""
    path = tmp_path / "manhole_host_key"
    host_key(str(path))
    path.chmod(0o640)
    with pytest.raises(ManholeError, match="chmod 600"):
        host_key(str(path))
    path.write_text("not a key\n")
    path.chmod(0o600)
    with pytest.raises(ManholeError, match="not a private key"):
        host_key(str(path))
    with pytest.raises(ManholeError, match="cannot write"):
        host_key(str(tmp_path / "no-such-dir" / "key"))


def test_service_listens_where_told_and_offers_public_keys_only(
    tmp_path: Path, authorized_keys: Path
) -> None:
    """The "manhole" service listens on the endpoint; its portal accepts SSH keys and nothing else."""
    reactor = MemoryReactorClock()
    manhole = manhole_service(
        {"answer": 42},
        "tcp:9695:interface=127.0.0.1",
        str(authorized_keys),
        str(tmp_path / "manhole_host_key"),
        reactor,
    )
    assert manhole.name == "manhole"
    manhole.startService()
    port, factory, _, interface = reactor.tcpServers[0]
    assert (port, interface) == (9695, "127.0.0.1")
    assert factory.portal.listCredentialsInterfaces() == [ISSHPrivateKey]
    manhole.stopService()
    with pytest.raises(ValueError):
        manhole_service({}, "nonsense:1", str(authorized_keys), str(tmp_path / "k"), reactor)


def test_namespace_holds_the_node_and_its_snapshot() -> None:
    """manhole_namespace exposes the node, `snapshot()` giving its state now, plus extras."""
    node = FakeClusterNode(snapshot([peer("n2")]))
    namespace = manhole_namespace(node, reactor="r")
    assert set(namespace) == {"node", "snapshot", "reactor"}
    assert namespace["node"] is node and namespace["reactor"] == "r"
    assert namespace["snapshot"]().peer("n2") == peer("n2")


def test_fingerprint_is_openssh_sha256() -> None:
    """A key's fingerprint reads as `ssh-keygen -l` prints it: SHA256 and unpadded base64."""
    blob = keys.Key.fromString(make_public_line()).blob()
    expected = "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    assert fingerprint(blob) == expected


def test_port_in_use_leaves_the_node_running_without_manhole(
    tmp_path: Path, authorized_keys: Path
) -> None:
    """A manhole port that cannot be opened logs one warning; the service starts anyway."""
    manhole = manhole_service(
        {}, "tcp:9695", str(authorized_keys), str(tmp_path / "host"), BusyReactor()
    )
    with capturedLogs() as logged:
        manhole.startService()
    assert manhole.running
    warnings = [formatEvent(event) for event in logged if event["log_level"] is LogLevel.warn]
    assert len(warnings) == 1 and warnings[0].startswith("Running without manhole: cannot listen")
    manhole.stopService()


# End to end: the manhole runs in its own process with the real reactor


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    """A manhole subprocess and where it listens."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL) and wait for it."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def start_server(tmp_path: Path, authorized_keys: Path, host_key_path: Path) -> Server:
    """Run the manhole on a free loopback port in a subprocess and wait until it accepts."""
    script = tmp_path / "manhole_server.py"
    script.write_text(SERVER)
    port = free_port()
    log = tmp_path / f"server-{port}.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                str(script),
                f"tcp:{port}:interface=127.0.0.1",
                str(authorized_keys),
                str(host_key_path),
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=Path(__file__).resolve().parents[2],
        )
    server = Server(process, port, log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"manhole server exited:\n{log.read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server
        except OSError:
            time.sleep(0.1)
    server.stop()
    raise AssertionError(f"manhole server never listened:\n{log.read_text()}")


@pytest.fixture
def server(tmp_path: Path, authorized_keys: Path) -> Iterator[Server]:
    """A running manhole with namespace {"answer": 42}, stopped after the test."""
    running = start_server(tmp_path, authorized_keys, tmp_path / "manhole_host_key")
    yield running
    running.stop()


def connect(port: int) -> paramiko.Transport:
    """An SSH transport to the manhole, key exchange done, nobody logged in yet."""
    transport = paramiko.Transport(("127.0.0.1", port))
    transport.connect()
    return transport


def evaluate(transport: paramiko.Transport, line: bytes, expect: bytes) -> bytes:
    """Type `line` at the prompt of a new shell; everything read until `expect` appeared."""
    channel = transport.open_session()
    channel.get_pty(width=100, height=30)
    channel.invoke_shell()
    channel.settimeout(10)
    channel.send(line + b"\r")
    seen = read_until(channel, expect)
    channel.close()
    return seen


def read_until(channel: paramiko.Channel, expect: bytes) -> bytes:
    """What the channel sends until `expect` appeared, the channel closed, or 10 s passed."""
    seen = b""
    deadline = time.monotonic() + 10
    while expect not in seen and time.monotonic() < deadline:
        data = channel.recv(4096)
        if not data:
            break
        seen += data
    return seen


def test_authorized_key_evaluates_python(server: Server, client_key: ClientKey) -> None:
    """The authorized key logs in under any user name and `answer * 2` prints 84."""
    transport = connect(server.port)
    try:
        key = paramiko.Ed25519Key.from_private_key_file(str(client_key.path))
        transport.auth_publickey("whoever", key)
        assert transport.is_authenticated()
        assert b"\r\n84\r\n" in evaluate(transport, b"answer * 2", b"\r\n84\r\n")
    finally:
        transport.close()
    server.stop()
    blob = base64.b64decode(client_key.public_line.split()[1])
    fingerprint = "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    assert f"Manhole login by 'whoever' with key {fingerprint}" in server.log.read_text()


def test_resize_redraws_and_eof_ends_the_session(server: Server, client_key: ClientKey) -> None:
    """A window change redraws the prompt (no error), and EOF from the client closes the shell."""
    transport = connect(server.port)
    try:
        transport.auth_publickey(
            "operator", paramiko.Ed25519Key.from_private_key_file(str(client_key.path))
        )
        channel = transport.open_session()
        channel.get_pty()
        channel.invoke_shell()
        channel.settimeout(10)
        assert read_until(channel, b">>> ").endswith(b">>> ")
        channel.resize_pty(width=120, height=40)
        assert read_until(channel, b">>> ") == b"\x1b[2J\x1b[H>>> "
        channel.shutdown_write()
        read_until(channel, b"never")
        assert channel.closed or channel.eof_received
    finally:
        transport.close()
    server.stop()
    assert "Error" not in server.log.read_text()


def test_unlisted_key_is_refused(server: Server, stranger_key: ClientKey) -> None:
    """A key missing from authorized_keys is refused, and the refusal is logged."""
    transport = connect(server.port)
    try:
        key = paramiko.Ed25519Key.from_private_key_file(str(stranger_key.path))
        with pytest.raises(paramiko.AuthenticationException):
            transport.auth_publickey("operator", key)
        assert not transport.is_authenticated()
    finally:
        transport.close()
    server.stop()
    assert "Manhole login refused for 'operator'" in server.log.read_text()


def test_password_and_keyboard_interactive_are_refused(server: Server) -> None:
    """Password and keyboard-interactive logins are refused: the server offers publickey only."""
    transport = connect(server.port)
    try:
        with pytest.raises(paramiko.BadAuthenticationType) as password:
            transport.auth_password("root", "secret")
        assert password.value.allowed_types == ["publickey"]
        with pytest.raises(paramiko.BadAuthenticationType) as interactive:
            transport.auth_interactive_dumb("root")
        assert interactive.value.allowed_types == ["publickey"]
        assert not transport.is_authenticated()
    finally:
        transport.close()


def test_host_key_is_made_on_first_start_and_reused(tmp_path: Path, authorized_keys: Path) -> None:
    """The first start writes the host key (0600) the server presents; a restart presents it again."""
    path = tmp_path / "state" / "manhole_host_key"
    path.parent.mkdir()
    presented = []
    for _ in range(2):
        running = start_server(tmp_path, authorized_keys, path)
        try:
            transport = connect(running.port)
            presented.append(transport.get_remote_server_key().asbytes())
            transport.close()
        finally:
            running.stop()
        assert path.stat().st_mode & 0o777 == 0o600
    on_disk = keys.Key.fromFile(str(path)).public().blob()
    assert presented == [on_disk, on_disk]


def test_openssh_client_evaluates_python(server: Server, client_key: ClientKey) -> None:
    """The stock OpenSSH client logs in with the key and gets 84 for `answer * 2`."""
    require(shutil.which("ssh") is not None, "the OpenSSH client (ssh) is not installed")
    options = "-tt -F /dev/null -o IdentitiesOnly=yes -o BatchMode=yes -o ConnectTimeout=10"
    options += " -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"
    where = ["-p", str(server.port), "-i", str(client_key.path), "operator@127.0.0.1"]
    result = subprocess.run(
        ["ssh", *options.split(), *where],
        input=b"answer * 2\n\x04",
        capture_output=True,
        timeout=30,
        env={**os.environ, "HOME": str(client_key.path.parent)},
    )
    assert b"\r\n84\r\n" in result.stdout, result.stderr
