"""The control plane on real sockets: a server subprocess (a simulated cluster) and hbctl runs.

Everything that needs a running reactor runs in a subprocess, so this pytest process never
starts the global reactor. The server is node alpha of a three-node SimNet driven in real time.
Tests act on what happened (the server reporting that it listens, a subscription arriving),
never after a guessed delay.
"""

from __future__ import annotations

import datetime
import grp
import ipaddress
import json
import os
import pwd
import socket
import ssl
import stat
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.conftest import THREE_NODE_HA_CF, write_config
from tests.prereq import require

ROOT = Path(__file__).resolve().parents[2]
HBCTL = [sys.executable, "-c", "import sys; from hbtwist.cli.main import main; sys.exit(main())"]
CLIENT_NAME = "admin.cluster.test"
SERVER_NAME = "alpha.cluster.test"


SERVER_SCRIPT = """\
import json, sys
from twisted.internet import reactor, task
from twisted.logger import globalLogBeginner, textFileLogObserver
from hbtwist.config import load_config
from hbtwist.control.service import ControlSetupError, control_services
from tests.doubles.control import FakeNode
from tests.simnet import SimNet

spec = json.loads(sys.argv[1])
globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stderr)], redirectStandardIO=False)
config = load_config(spec["config_dir"], local_node="alpha")
net = SimNet(["alpha", "beta", "gamma"])
node = FakeNode(net.nodes["alpha"], config)

def cut():
    net.cut("gamma", "eth0")
    net.cut("gamma", "eth1")

# Cut gamma off once the awaited number of event subscriptions has arrived.
class Subscribers(list):
    cut_done = False
    def append(self, sink):
        super().append(sink)
        if len(self) == spec.get("cut_when_subscribed") and not Subscribers.cut_done:
            Subscribers.cut_done = True
            reactor.callLater(0, cut)  # after the Subscribe answer has been written

node.subscribers = Subscribers()
net.start()
net.run(6.0)
try:
    services = control_services(
        node,
        socket_path=spec.get("socket"),
        tls_endpoint=spec.get("tls"),
        tls_cert=spec.get("cert"),
        tls_key=spec.get("key"),
        tls_ca=spec.get("ca"),
        tls_client_names=spec.get("names"),
        socket_group=spec.get("group"),
        reactor=reactor,
        clock=net.clock,
    )
except ControlSetupError as error:
    print(f"control: {error}", file=sys.stderr, flush=True)
    sys.exit(2)
for service in services:
    service.startService()
reactor.addSystemEventTrigger("before", "shutdown", lambda: [s.stopService() for s in services])
task.LoopingCall(net.clock.advance, 0.01).start(0.01)
ports = {s.name: s.port.getHost().port for s in services if s.name == "control-tls"}
print(json.dumps(ports), flush=True)
reactor.run()
"""


# Certificates


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write(directory: Path, stem: str, cert: x509.Certificate, key: Any) -> None:
    (directory / f"{stem}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / f"{stem}.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def _ca(directory: Path, stem: str) -> tuple[x509.Certificate, Any]:
    key = _key()
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(f"{stem} test CA"))
        .issuer_name(_name(f"{stem} test CA"))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    _write(directory, stem, cert, key)
    return cert, key


def _leaf(
    directory: Path,
    stem: str,
    issuer: tuple[x509.Certificate, Any],
    common_name: str,
    sans: list[x509.GeneralName] | None,
    usage: x509.ObjectIdentifier,
    expired: bool = False,
) -> None:
    key = _key()
    now = datetime.datetime.now(datetime.UTC)
    start, end = now - datetime.timedelta(days=1), now + datetime.timedelta(days=30)
    if expired:
        start, end = now - datetime.timedelta(days=30), now - datetime.timedelta(days=1)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(issuer[0].subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    )
    if sans is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    _write(directory, stem, builder.sign(issuer[1], hashes.SHA256()), key)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA, a second CA, server certificates and good and bad client certificates."""
    directory = tmp_path_factory.mktemp("pki")
    ca = _ca(directory, "ca")
    other = _ca(directory, "other-ca")
    server_sans: list[x509.GeneralName] = [
        x509.DNSName(SERVER_NAME),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    ]
    server, client = ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH
    _leaf(directory, "server", ca, SERVER_NAME, server_sans, server)
    _leaf(directory, "server-nosan", ca, "127.0.0.1", None, server)
    good_sans: list[x509.GeneralName] = [x509.DNSName(CLIENT_NAME)]
    _leaf(directory, "good", ca, CLIENT_NAME, good_sans, client)
    _leaf(directory, "nosan", ca, CLIENT_NAME, None, client)
    _leaf(directory, "wrongname", ca, "intruder", [x509.DNSName("intruder.cluster.test")], client)
    _leaf(directory, "expired", ca, CLIENT_NAME, good_sans, client, expired=True)
    _leaf(directory, "otherca", other, CLIENT_NAME, good_sans, client)
    return directory


# Processes


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


class Server:
    """A running control server subprocess."""

    def __init__(self, process: subprocess.Popen[str], ports: dict[str, int]) -> None:
        self.process = process
        self.ports = ports

    @property
    def tls_address(self) -> str:
        """The ssl: control address of its TLS listener."""
        return f"ssl:127.0.0.1:{self.ports['control-tls']}"


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Start control servers (terminated at the end of the test)."""
    script = tmp_path / "control_server.py"
    script.write_text(SERVER_SCRIPT)
    config_dir = write_config(tmp_path / "ha.d", ha_cf=THREE_NODE_HA_CF, haresources="")
    started: list[subprocess.Popen[str]] = []

    def start(**spec: Any) -> Server:
        spec["config_dir"] = str(config_dir)
        process = subprocess.Popen(
            [sys.executable, str(script), json.dumps(spec)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=_environment(),
        )
        started.append(process)
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            process.wait(timeout=30)
            assert process.stderr is not None
            raise RuntimeError(f"server did not start: {process.stderr.read()}")
        return Server(process, json.loads(line))

    yield start
    for process in started:
        process.terminate()
        try:
            process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


@dataclass(frozen=True)
class User:
    """Another user to run hbtwist as, and a Python that user may run it with."""

    uid: int
    gid: int
    python: str
    pythonpath: str


def _python_candidates() -> list[str]:
    """Pythons of this version: this one first (a venv's may live under a private /root)."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [sys.executable, f"/usr/bin/{version}", f"/usr/local/bin/{version}"]
    return [path for path in dict.fromkeys(candidates) if os.path.exists(path)]


def _runs_hbctl(python: str, pythonpath: str, uid: int, gid: int) -> bool:
    """Whether user `uid` can import hbctl with `python` (tried, not guessed from modes)."""
    try:
        probe = subprocess.run(
            [python, "-c", "import hbtwist.cli.main"],
            capture_output=True,
            timeout=60,
            cwd="/",
            env=dict(_environment(), PYTHONPATH=pythonpath),
            preexec_fn=partial(_become, uid, gid, ()),
        )
    except PermissionError:
        return False
    return probe.returncode == 0


@pytest.fixture(scope="module")
def nobody() -> User:
    """The `nobody` user and a Python it can run hbctl with; root is needed to switch to it."""
    require(os.geteuid() == 0, "needs root to run a client as another user")
    try:
        entry = pwd.getpwnam("nobody")
    except KeyError:
        entry = None
    require(entry is not None, "needs the user nobody")
    assert entry is not None
    pythonpath = f"{ROOT}:{sysconfig.get_paths()['purelib']}"
    usable = [
        python
        for python in _python_candidates()
        if _runs_hbctl(python, pythonpath, entry.pw_uid, entry.pw_gid)
    ]
    require(
        bool(usable),
        f"needs a Python {sys.version_info.major}.{sys.version_info.minor} with which user "
        f"nobody can import hbtwist from {ROOT} (tried {', '.join(_python_candidates())})",
    )
    return User(entry.pw_uid, entry.pw_gid, usable[0], pythonpath)


def _become(uid: int, gid: int, groups: tuple[int, ...]) -> None:
    """In a child before exec: drop to `uid`/`gid` with supplementary `groups`."""
    os.setgroups(list(groups))
    os.setgid(gid)
    os.setuid(uid)


def hbctl(
    *args: str, user: User | None = None, groups: tuple[int, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """Run hbctl with `args` (as `user` with supplementary `groups` if given)."""
    command, env = [*HBCTL, *args], _environment()
    drop = None
    if user is not None:
        command[0], env["PYTHONPATH"] = user.python, user.pythonpath
        drop = partial(_become, user.uid, user.gid, groups)
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
        env=env,
        preexec_fn=drop,
    )


def tls_args(pki: Path, client: str, ca: str = "ca") -> list[str]:
    """hbctl's certificate options for client certificate `client`."""
    return [
        "--cert",
        str(pki / f"{client}.pem"),
        "--key",
        str(pki / f"{client}.key"),
        "--ca",
        str(pki / f"{ca}.pem"),
    ]


def tls_server(start_server: Callable[..., Server], pki: Path, cert: str = "server") -> Server:
    """A server with a mutual-TLS listener on 127.0.0.1 accepting client `CLIENT_NAME`."""
    return start_server(
        tls="tcp:0:interface=127.0.0.1",
        cert=str(pki / f"{cert}.pem"),
        key=str(pki / f"{cert}.key"),
        ca=str(pki / "ca.pem"),
        names=[CLIENT_NAME],
    )


def raw_tls_exchange(port: int, pki: Path, client: str | None) -> bytes:
    """What a plain TLS client (optionally with certificate `client`) gets back for `Version`."""
    context = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    context.check_hostname = False
    if client is not None:
        context.load_cert_chain(str(pki / f"{client}.pem"), str(pki / f"{client}.key"))
    request = b"\x00\x04_ask\x00\x011\x00\x08_command\x00\x07Version\x00\x00"
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        try:
            with context.wrap_socket(raw, server_hostname=SERVER_NAME) as tls:
                tls.sendall(request)
                while not received.endswith(b"\x00\x00") and (chunk := tls.recv(65536)):
                    received += chunk
        except (ssl.SSLError, ConnectionError, TimeoutError):
            pass
    return received


# UNIX socket


def test_unreachable_daemon_cl_status_messages(tmp_path: Path) -> None:
    """With no daemon, hbstatus says stopped (exit 1) and the others log the sign-on failure."""
    address = f"unix:{tmp_path}/absent.sock"
    result = hbctl("hbstatus", "--control", address)
    assert (result.stdout, result.returncode) == ("Heartbeat is stopped on this machine.\n", 1)
    result = hbctl("nodestatus", "alpha", "--control", address)
    assert result.returncode == 1 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0] == "ERROR: Cannot signon with heartbeat"
    assert lines[1].startswith("ERROR: REASON: hb_api_signon: Can't initiate connection to heartbeat")
    result = hbctl("nodes", "--control", address)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "absent.sock" in result.stderr


def test_silent_daemon_times_out(tmp_path: Path) -> None:
    """A socket that accepts but never answers: hbctl gives up after --timeout (cl_status: 12)."""
    path = tmp_path / "silent.sock"
    with socket.socket(socket.AF_UNIX) as silent:
        silent.bind(str(path))
        silent.listen(5)
        address = ["--control", f"unix:{path}", "--timeout", "0.5"]
        result = hbctl("nodestatus", "alpha", *address)
        assert (result.stdout, result.returncode) == ("", 12)
        assert result.stderr == f"hbctl: unix:{path}: no answer from the daemon\n"
        result = hbctl("nodes", *address)
        assert (result.stdout, result.returncode) == ("", 1)


def test_unix_socket_queries_and_events(start_server: Callable[..., Server], tmp_path: Path) -> None:
    """Over the UNIX socket hbctl lists nodes, and follows the events of a cut until --count."""
    path = str(tmp_path / "run" / "control.sock")
    start_server(socket=path, group=None, cut_when_subscribed=1)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o755
    nodes = hbctl("nodes", "--control", f"unix:{path}", "--json")
    assert nodes.returncode == 0, nodes.stderr
    assert [node["name"] for node in json.loads(nodes.stdout)] == ["alpha", "beta", "gamma"]
    listed = hbctl("listnodes", "--control", f"unix:{path}")
    assert (listed.stdout, listed.returncode) == ("gamma\nbeta\nalpha\n", 0)  # cl_status's order
    before = hbctl("nodestatus", "gamma", "--control", f"unix:{path}")
    assert (before.stdout, before.returncode) == ("active\n", 0)
    events = hbctl("events", "--count", "3", "--json", "--control", f"unix:{path}")
    assert events.returncode == 0, events.stderr
    records = [json.loads(line) for line in events.stdout.splitlines()]
    assert len(records) == 3
    assert {(r["kind"], r.get("link"), r["new"]) for r in records} == {
        ("link_status_changed", "eth0", "dead"),
        ("link_status_changed", "eth1", "dead"),
        ("node_status_changed", None, "dead"),
    }
    status = hbctl("nodestatus", "gamma", "--control", f"unix:{path}")
    assert (status.stdout, status.returncode) == ("dead\n", 1)


def test_unix_socket_resource_commands(
    start_server: Callable[..., Server], tmp_path: Path
) -> None:
    """Over the UNIX socket hbctl asks for standby and takeover and shows what the node holds;
    with no daemon, standby fails in one line (exit 1)."""
    path = str(tmp_path / "control.sock")
    start_server(socket=path, group=None)
    address = ["--control", f"unix:{path}"]
    standby = hbctl("standby", *address)
    assert (standby.stdout, standby.stderr, standby.returncode) == ("Going standby [all].\n", "", 0)
    takeover = hbctl("takeover", "foreign", *address)
    assert (takeover.stdout, takeover.returncode) == ("Taking over [foreign].\n", 0)
    resources = hbctl("resources", "--json", *address)
    assert resources.returncode == 0, resources.stderr
    status = json.loads(resources.stdout)
    assert (status["rsc_hold"], status["stable"], status["groups"]) == ("none", True, [])
    rscstatus = hbctl("rscstatus", *address)
    assert (rscstatus.stdout, rscstatus.returncode) == ("none\n", 0)
    absent = hbctl("standby", "--control", f"unix:{tmp_path}/absent.sock")
    assert (absent.stdout, absent.returncode) == ("", 1)
    assert absent.stderr.count("\n") == 1 and "absent.sock" in absent.stderr


def test_second_daemon_refuses_a_live_socket(
    start_server: Callable[..., Server], tmp_path: Path
) -> None:
    """A second server on a socket another one answers on refuses to start; the first goes on."""
    path = str(tmp_path / "control.sock")
    start_server(socket=path, group=None)
    with pytest.raises(RuntimeError, match="another daemon is answering"):
        start_server(socket=path, group=None)
    assert hbctl("hbstatus", "--control", f"unix:{path}").returncode == 0


@pytest.fixture
def public_dir() -> Iterator[Path]:
    """A directory under /tmp that other users may enter (pytest's tmp_path is private)."""
    directory = Path(tempfile.mkdtemp(prefix="hbtwist-control-"))
    directory.chmod(0o755)
    yield directory
    for path in sorted(directory.rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    directory.rmdir()


def test_socket_0600_refuses_other_users(
    start_server: Callable[..., Server], public_dir: Path, nobody: User
) -> None:
    """Another user is refused by a 0600 socket: one clear line, exit 1; hbstatus says refused."""
    path = str(public_dir / "run" / "control.sock")
    start_server(socket=path, group=None)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    result = hbctl("nodes", "--control", f"unix:{path}", user=nobody)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == f"hbctl: unix:{path}: permission denied\n"
    result = hbctl("hbstatus", "--control", f"unix:{path}", user=nobody)
    assert result.stdout == (
        "Heartbeat is apparently running on this machine, but refuses my connection\n"
    )
    assert result.returncode == 0


def test_socket_0660_admits_the_group(
    start_server: Callable[..., Server], public_dir: Path, nobody: User
) -> None:
    """With the haclient group the socket is 0660 root:haclient; a member may use it."""
    groups = {group.gr_name: group.gr_gid for group in grp.getgrall()}
    require("haclient" in groups, "needs the group haclient")
    gid = groups["haclient"]
    path = str(public_dir / "control.sock")
    start_server(socket=path, group="haclient")
    info = os.stat(path)
    assert (stat.S_IMODE(info.st_mode), info.st_gid) == (0o660, gid)
    outsider = hbctl("status", "--control", f"unix:{path}", user=nobody)
    assert (outsider.stdout, outsider.stderr) == ("", f"hbctl: unix:{path}: permission denied\n")
    assert outsider.returncode == 1
    member = hbctl("status", "--control", f"unix:{path}", user=nobody, groups=(gid,))
    assert member.returncode == 0, member.stderr
    assert member.stdout.startswith("node:       alpha\nstatus:     active\n")


# Mutual TLS


def test_tls_good_client_lists_nodes(start_server: Callable[..., Server], pki: Path) -> None:
    """A client certificate from the CA naming an accepted client gets the node list."""
    server = tls_server(start_server, pki)
    result = hbctl("nodes", "--control", server.tls_address, *tls_args(pki, "good"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["NODE", "TYPE", "STATUS"]
    assert [line.split()[:3] for line in lines[1:]] == [
        ["alpha", "normal", "active"],
        ["beta", "normal", "active"],
        ["gamma", "normal", "active"],
    ]
    assert raw_tls_exchange(server.ports["control-tls"], pki, "good").startswith(b"\x00\x07_answer")


@pytest.mark.parametrize("client", ["nosan", "wrongname", "expired", "otherca"])
def test_tls_bad_client_certificates_are_refused(
    start_server: Callable[..., Server], pki: Path, client: str
) -> None:
    """SAN-less, wrong-name, expired and other-CA client certificates get no answer at all."""
    server = tls_server(start_server, pki)
    assert raw_tls_exchange(server.ports["control-tls"], pki, client) == b""
    result = hbctl("nodes", "--control", server.tls_address, *tls_args(pki, client))
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("hbctl: ssl:127.0.0.1:")
    assert "refused" in result.stderr


def test_tls_without_client_certificate_is_refused(
    start_server: Callable[..., Server], pki: Path
) -> None:
    """A TLS client that presents no certificate gets no answer."""
    server = tls_server(start_server, pki)
    assert raw_tls_exchange(server.ports["control-tls"], pki, None) == b""


def test_tls_refusals_are_logged(start_server: Callable[..., Server], pki: Path) -> None:
    """The daemon logs why it refused a SAN-less client certificate."""
    server = tls_server(start_server, pki)
    raw_tls_exchange(server.ports["control-tls"], pki, "nosan")
    raw_tls_exchange(server.ports["control-tls"], pki, "good")
    server.process.terminate()
    _, err = server.process.communicate(timeout=30)
    assert "refused: certificate refused: Certificate does not contain any `subjectAltName`s" in err


def test_hbctl_refuses_a_san_less_daemon_certificate(
    start_server: Callable[..., Server], pki: Path
) -> None:
    """hbctl fails closed on a daemon certificate without subjectAltName (Twisted alone would not)."""
    server = tls_server(start_server, pki, cert="server-nosan")
    result = hbctl("nodes", "--control", server.tls_address, *tls_args(pki, "good"))
    assert result.returncode == 1 and result.stdout == ""
    assert "subjectAltName" in result.stderr and result.stderr.count("\n") == 1


def test_hbctl_checks_the_daemon_name(start_server: Callable[..., Server], pki: Path) -> None:
    """hbctl refuses a daemon whose certificate does not carry the expected --server-name."""
    server = tls_server(start_server, pki)
    ok = hbctl(
        "status", "--control", server.tls_address, "--server-name", SERVER_NAME, *tls_args(pki, "good")
    )
    assert ok.returncode == 0, ok.stderr
    bad = hbctl(
        "status",
        "--control",
        server.tls_address,
        "--server-name",
        "beta.cluster.test",
        *tls_args(pki, "good"),
    )
    assert bad.returncode == 1 and bad.stdout == "" and bad.stderr.count("\n") == 1


# The identity check itself (no sockets)


def _certificate(pki: Path, stem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate((pki / f"{stem}.pem").read_bytes())


def test_identity_check(pki: Path) -> None:
    """Only a subjectAltName naming an accepted identity passes; the common name never counts."""
    from hbtwist.control.tls import identity_problem

    assert identity_problem(_certificate(pki, "good"), ["other.test", CLIENT_NAME]) is None
    assert identity_problem(_certificate(pki, "server"), ["127.0.0.1"]) is None
    nosan = identity_problem(_certificate(pki, "nosan"), [CLIENT_NAME])
    assert nosan is not None and "subjectAltName" in nosan
    wrong = identity_problem(_certificate(pki, "wrongname"), [CLIENT_NAME])
    assert wrong == f"subjectAltName matches none of {CLIENT_NAME}"
    assert identity_problem(None, [CLIENT_NAME]) == "no certificate"
    assert identity_problem(_certificate(pki, "good"), []) == "no identity is accepted"


def test_why_twisted_alone_fails_open(pki: Path) -> None:
    """service_identity reports a SAN-less certificate with an error Twisted's check ignores."""
    from service_identity import CertificateError, VerificationError
    from service_identity.cryptography import verify_certificate_hostname

    with pytest.raises(CertificateError):
        verify_certificate_hostname(_certificate(pki, "nosan"), CLIENT_NAME)
    assert not issubclass(CertificateError, VerificationError)
