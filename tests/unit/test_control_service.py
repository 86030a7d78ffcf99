"""Building the control listeners: socket path checks, permissions, TLS options, addresses."""

from __future__ import annotations

import errno
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from twisted.internet import error
from twisted.internet.testing import MemoryReactorClock
from twisted.python.failure import Failure

from hbtwist.control import service
from hbtwist.control.client import (
    ClientProtocol,
    Unreachable,
    describe_failure,
    parse_address,
)
from hbtwist.control.service import ControlSetupError, control_services, prepare_socket_path
from tests.doubles.node import FakeClusterNode, peer, snapshot

ROOT = Path(__file__).resolve().parents[2]
LISTEN_ONCE = """\
import os, sys
from twisted.internet import reactor
from hbtwist.control.service import control_services
from tests.doubles.node import FakeClusterNode, snapshot

path = sys.argv[1]
[control] = control_services(FakeClusterNode(snapshot()), socket_path=path, socket_group=None,
                             reactor=reactor)
control.startService()
print(os.readlink(path + ".lock") == str(os.getpid()), flush=True)
control.stopService().addCallback(lambda _: reactor.stop())
reactor.run()
print(os.path.exists(path), os.path.lexists(path + ".lock"))
"""


def fake_node() -> FakeClusterNode:
    """A node whose view is never queried (only the services are built)."""
    return FakeClusterNode(snapshot([peer("beta")], local="alpha"))


def dead_pid() -> int:
    """The pid of a process that has already exited."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_socket_directory_is_created(tmp_path: Path) -> None:
    """The socket's directory is created with mode 0755."""
    path = tmp_path / "run" / "hbtwist" / "control.sock"
    old = os.umask(0o077)
    try:
        prepare_socket_path(str(path))
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o755
    assert not path.exists()


def test_stale_socket_is_replaced_at_listen(tmp_path: Path) -> None:
    """A socket whose lock names a dead process (a crashed daemon's) is removed; a listener then
    holds the lock with its own pid and removes both socket and lock when it stops."""
    path = tmp_path / "control.sock"
    with socket.socket(socket.AF_UNIX) as dead:
        dead.bind(str(path))
    os.symlink(str(dead_pid()), f"{path}.lock")
    prepare_socket_path(str(path))
    assert not path.exists() and not os.path.lexists(f"{path}.lock")
    script = tmp_path / "listen_once.py"
    script.write_text(LISTEN_ONCE)
    result = subprocess.run(
        [sys.executable, str(script), str(path)], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["True", "False False"]


def test_live_socket_is_refused(tmp_path: Path) -> None:
    """A socket whose lock names a live process is left alone and start-up is refused."""
    path = tmp_path / "control.sock"
    with socket.socket(socket.AF_UNIX) as live:
        live.bind(str(path))
        live.listen(1)
        os.symlink(str(os.getppid()), f"{path}.lock")
        with pytest.raises(ControlSetupError, match="another daemon is answering on"):
            prepare_socket_path(str(path))
    assert path.exists()


def test_non_socket_is_refused(tmp_path: Path) -> None:
    """A regular file where the socket should be is never removed."""
    path = tmp_path / "control.sock"
    path.write_text("precious")
    with pytest.raises(ControlSetupError, match="is not a socket"):
        prepare_socket_path(str(path))
    assert path.read_text() == "precious"


def test_socket_permissions() -> None:
    """0660 with the group's id when the group exists, else (or without a group) 0600."""
    assert service.socket_permissions(None) == (0o600, None)
    assert service.socket_permissions("no-such-group-hbtwist") == (0o600, None)
    assert service.socket_permissions("root") == (0o660, 0)


def test_control_services_default(tmp_path: Path) -> None:
    """By default there is one UNIX listener; a TLS endpoint adds a second."""
    reactor = MemoryReactorClock()
    services = control_services(
        fake_node(), socket_path=str(tmp_path / "c.sock"), socket_group=None, reactor=reactor
    )
    assert [s.name for s in services] == ["control-unix"]
    services[0].startService()
    assert reactor.unixServers[0][0] == str(tmp_path / "c.sock")
    assert reactor.unixServers[0][3] == 0o600
    assert reactor.unixServers[0][4], "the socket is listened on with a pid lock file"


def test_tls_needs_certificates(tmp_path: Path) -> None:
    """A TLS endpoint without certificate, key or CA is refused in one line."""
    with pytest.raises(ControlSetupError, match="needs --tls-cert, --tls-key, --tls-ca"):
        control_services(
            fake_node(), socket_path=None, tls_endpoint="tcp:1694", reactor=MemoryReactorClock()
        )


def test_tls_endpoint_must_be_tcp(tmp_path: Path) -> None:
    """An ssl: (or unix:) endpoint is refused: hbtwist adds TLS itself."""
    with pytest.raises(ControlSetupError, match="give a tcp: or tcp6: endpoint"):
        control_services(
            fake_node(),
            socket_path=None,
            tls_endpoint="ssl:1694",
            tls_cert="c",
            tls_key="k",
            tls_ca="a",
            reactor=MemoryReactorClock(),
        )


def test_tls_unreadable_files(tmp_path: Path) -> None:
    """Missing certificate files are named in the error."""
    with pytest.raises(ControlSetupError, match="cannot read the certificate .*absent.pem"):
        control_services(
            fake_node(),
            socket_path=None,
            tls_endpoint="tcp:1694",
            tls_cert=str(tmp_path / "absent.pem"),
            tls_key="k",
            tls_ca="a",
            reactor=MemoryReactorClock(),
        )


def test_parse_address() -> None:
    """unix:PATH and ssl:HOST:PORT (IPv6 in brackets) are understood; anything else is not."""
    assert parse_address("unix:/run/x.sock").path == "/run/x.sock"
    tls = parse_address("ssl:alpha.example:1694")
    assert (tls.host, tls.port, tls.is_tls) == ("alpha.example", 1694, True)
    assert parse_address("ssl:[::1]:1694").host == "::1"
    for bad in ("tcp:alpha:1694", "ssl:alpha", "ssl:alpha:0", "unix:", "/run/x.sock"):
        with pytest.raises(ValueError, match="unix:PATH or ssl:HOST:PORT"):
            parse_address(bad)


@pytest.mark.parametrize(
    ("value", "stopped", "text"),
    [
        (error.ConnectError(errno.ENOENT, "x"), True, "no daemon listening"),
        (error.ConnectionRefusedError(), True, "nothing is listening"),
        (error.ConnectError(errno.EACCES, "x"), False, "permission denied"),
        (error.ConnectionDone(), False, "closed the connection before answering"),
    ],
)
def test_describe_failure(value: Exception, stopped: bool, text: str) -> None:
    """Connection failures map to Unreachable: stopped for no listener, refused otherwise."""
    problem = describe_failure(Failure(value), ClientProtocol(), "unix:/s")
    assert isinstance(problem, Unreachable)
    assert problem.stopped is stopped and text in problem.reason


def test_describe_tls_refusal() -> None:
    """A connection closed after the TLS handshake means this client's certificate was refused."""
    problem = describe_failure(Failure(error.ConnectionLost()), ClientProtocol(), "ssl:h:1")
    assert "refused this client's certificate" in problem.reason and not problem.stopped
