"""The control listeners: a UNIX socket (default) and an optional TCP port with mutual TLS."""

from __future__ import annotations

import grp
import os
import stat
from collections.abc import Sequence
from functools import partial
from typing import Any

from twisted.application.service import IService
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python import lockfile

from hbtwist.control import DEFAULT_SOCKET
from hbtwist.control.access import IClusterNode
from hbtwist.control.listener import ListenerService, UnixEndpoint
from hbtwist.control.server import ControlFactory
from hbtwist.control.setuperrors import ControlSetupError
from hbtwist.control.view import NodeView

__all__ = ["DEFAULT_SOCKET", "ControlSetupError", "control_services"]

_log = Logger()

SOCKET_GROUP = "haclient"
DIRECTORY_MODE = 0o755
PRIVATE_MODE = 0o600
GROUP_MODE = 0o660


def socket_permissions(group: str | None) -> tuple[int, int | None]:
    """The socket mode and group: 0660 and the group's id when the group exists, else 0600."""
    if group is None:
        return PRIVATE_MODE, None
    try:
        return GROUP_MODE, grp.getgrnam(group).gr_gid
    except KeyError:
        return PRIVATE_MODE, None


def prepare_socket_path(path: str) -> None:
    """Create the socket's directory and clear a stale socket; refuse if a daemon holds it.

    The socket is listened on with a lock file beside it (`PATH.lock`, a link to the daemon's
    pid). A lock held by a live process means another daemon; one naming a dead process marks
    a crashed daemon's socket, which is removed.
    """
    directory = os.path.dirname(path) or "."
    try:
        if not os.path.isdir(directory):
            os.makedirs(directory, mode=DIRECTORY_MODE)
            os.chmod(directory, DIRECTORY_MODE)  # whatever the umask
    except OSError as error:
        raise ControlSetupError(f"cannot create {directory}: {error.strerror}") from None
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise ControlSetupError(f"{path} exists and is not a socket; not removing it")
    lock = lockfile.FilesystemLock(f"{path}.lock")
    try:
        if not lock.lock():
            raise ControlSetupError(f"another daemon is answering on {path}; not starting")
    except OSError as error:
        raise ControlSetupError(f"cannot lock {path}.lock: {error.strerror}") from None
    try:
        if not lock.clean:
            os.unlink(path)
            _log.info("Removed stale control socket {path}", path=path)
    finally:
        lock.unlock()


def _set_group(path: str, gid: int | None, mode: int) -> None:
    if gid is not None:
        os.chown(path, -1, gid)
        os.chmod(path, mode)


def unix_service(
    view: NodeView, path: str, reactor: Any, group: str | None = SOCKET_GROUP
) -> ListenerService:
    """The UNIX-socket listener (checks and clears the socket path now, listens at start)."""
    prepare_socket_path(path)
    mode, gid = socket_permissions(group)
    endpoint = UnixEndpoint(reactor, path, PRIVATE_MODE)
    return ListenerService(
        "control-unix",
        endpoint,
        ControlFactory(view),
        partial(_set_group, path, gid, mode),
        where=f"unix:{path}",
    )


def tls_service(
    view: NodeView,
    description: str,
    reactor: Any,
    *,
    cert: str | None,
    key: str | None,
    ca: str | None,
    client_names: Sequence[str],
) -> ListenerService:
    """The mutual-TLS listener on the TCP endpoint `description` (e.g. `tcp:1694`). Endpoint
    strings and TLS are loaded here, for this listener only."""
    missing = [flag for flag, value in (("cert", cert), ("key", key), ("ca", ca)) if not value]
    if missing:
        needed = ", ".join(f"--tls-{flag}" for flag in missing)
        raise ControlSetupError(f"the TLS control port needs {needed}")
    kind = description.split(":", 1)[0]
    if kind not in ("tcp", "tcp6"):
        raise ControlSetupError(
            f"control TLS endpoint {description!r}: give a tcp: or tcp6: endpoint, "
            "TLS is added by hbtwist"
        )
    assert cert and key and ca
    from twisted.internet import endpoints
    from twisted.protocols.tls import TLSMemoryBIOFactory

    from hbtwist.control import tls

    try:
        options = tls.server_options(cert, key, ca)
        endpoint = endpoints.serverFromString(reactor, description)
    except tls.TLSSetupError as error:
        raise ControlSetupError(str(error)) from None
    except (ValueError, TypeError) as error:
        raise ControlSetupError(f"control TLS endpoint {description!r}: {error}") from None
    names = tuple(client_names)
    factory = ControlFactory(view, partial(tls.peer_identity_problem, names=names))
    wrapped = TLSMemoryBIOFactory(options, False, factory)
    return ListenerService("control-tls", endpoint, wrapped, where=description)


def control_services(
    node: IClusterNode,
    *,
    socket_path: str | None = DEFAULT_SOCKET,
    tls_endpoint: str | None = None,
    tls_cert: str | None = None,
    tls_key: str | None = None,
    tls_ca: str | None = None,
    tls_client_names: Sequence[str] | None = None,
    socket_group: str | None = SOCKET_GROUP,
    reactor: Any = None,
    clock: IReactorTime | None = None,
) -> list[IService]:
    """The control-plane services for `node`; ControlSetupError (one line) if they cannot run.

    `socket_path` None disables the UNIX socket; `tls_endpoint` (a `tcp:` endpoint string)
    enables the mutual-TLS port, whose clients must present a certificate from `tls_ca` whose
    subjectAltName names one of `tls_client_names` (default: the cluster's node names).
    `clock` is the node's clock (default: the reactor).
    """
    if reactor is None:
        from twisted.internet import reactor
    view = NodeView(node, clock or reactor)
    services: list[IService] = []
    if socket_path:
        services.append(unix_service(view, socket_path, reactor, socket_group))
    if tls_endpoint:
        names = tls_client_names
        if names is None:
            names = [peer.name for peer in node.snapshot().peers]
        services.append(
            tls_service(
                view,
                tls_endpoint,
                reactor,
                cert=tls_cert,
                key=tls_key,
                ca=tls_ca,
                client_names=names,
            )
        )
    return services
