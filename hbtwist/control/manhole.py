"""A key-only SSH manhole: a Python prompt inside the running daemon, for its operators.

Logins are by public key only, checked against one OpenSSH `authorized_keys` file that is read
again at every attempt; any user name is accepted when the key matches. The server's own host
key is made on first use. See doc/manhole.md.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from twisted.application import service
from twisted.conch import interfaces as iconch
from twisted.conch import manhole, manhole_ssh
from twisted.conch.checkers import IAuthorizedKeysDB, SSHPublicKeyChecker
from twisted.conch.insults import insults
from twisted.conch.ssh import connection, factory, keys, userauth
from twisted.cred import portal
from twisted.cred.checkers import ICredentialsChecker
from twisted.cred.credentials import ISSHPrivateKey
from twisted.internet import defer, endpoints
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from hbtwist.control.access import IClusterNode
from hbtwist.control.listener import ListenerService
from hbtwist.control.setuperrors import ManholeError

_log = Logger()


def read_authorized_keys(path: str) -> tuple[list[keys.Key], list[int]]:
    """The public keys in an authorized_keys file, and the numbers of the lines left unused.

    Raises ManholeError when the file cannot be read or is writable by group or others.
    """
    try:
        with open(path, "rb") as source:
            mode = os.fstat(source.fileno()).st_mode
            lines = source.read().splitlines()
    except OSError as error:
        raise ManholeError(f"cannot read authorized keys {path}: {error.strerror}") from None
    if not stat.S_ISREG(mode):
        raise ManholeError(f"authorized keys {path} is not a regular file")
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise ManholeError(f"authorized keys {path} is writable by others (chmod go-w)")
    found: list[keys.Key] = []
    unused: list[int] = []
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith(b"#"):
            continue
        key = _public_key(line)
        if key is None:
            unused.append(number)
        else:
            found.append(key)
    return found, unused


def _public_key(line: bytes) -> keys.Key | None:
    """The public key of a plain `TYPE BASE64 [comment]` line; None for anything else.

    conch cannot tell the type of a line with options in front (`from="..." ssh-ed25519 ...`),
    so such a line is never accepted without its restriction.
    """
    try:
        key = keys.Key.fromString(line)
    except Exception:  # any undecodable line is skipped, whatever the parser raised
        return None
    return key if key.isPublic() else None


@implementer(IAuthorizedKeysDB)
class AuthorizedKeysFile:
    """The keys of one authorized_keys file, read again at each login, for every user name."""

    def __init__(self, path: str) -> None:
        self.path = path

    def check(self) -> int:
        """How many keys the file holds now; ManholeError when it is unusable or holds none."""
        found, unused = read_authorized_keys(self.path)
        for number in unused:
            _log.warn(
                "Manhole: {path}:{line}: not a plain public key line, ignored",
                path=self.path,
                line=number,
            )
        if not found:
            raise ManholeError(f"authorized keys {self.path} holds no usable public key")
        return len(found)

    def getAuthorizedKeys(self, avatarId: bytes) -> Iterable[keys.Key]:  # noqa: N802
        """Every key of the file, whatever the user name; none when the file became unusable."""
        try:
            return read_authorized_keys(self.path)[0]
        except ManholeError as error:
            _log.error("Manhole login refused: {error}", error=error)
            return []


def host_key(path: str) -> keys.Key:
    """The manhole's private host key at `path`; a new ed25519 key, mode 0600, if none is there.

    Raises ManholeError when the key cannot be read or made, or is readable by group or others.
    """
    try:
        return _load_host_key(path)
    except FileNotFoundError:
        pass
    except OSError as error:
        raise ManholeError(f"cannot read manhole host key {path}: {error.strerror}") from None
    try:
        _make_host_key(path)
        return _load_host_key(path)
    except OSError as error:
        raise ManholeError(f"cannot write manhole host key {path}: {error.strerror}") from None


def _load_host_key(path: str) -> keys.Key:
    with open(path, "rb") as source:
        mode = os.fstat(source.fileno()).st_mode
        data = source.read()
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ManholeError(f"manhole host key {path} is open to others (chmod 600)")
    try:
        key = keys.Key.fromString(data)
    except Exception:
        raise ManholeError(f"manhole host key {path} is not a private key") from None
    if key.isPublic():
        raise ManholeError(f"manhole host key {path} is not a private key")
    return key


def _make_host_key(path: str) -> None:
    """Write a new key beside `path`, then link it into place unless another process won."""
    data = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    temporary = f"{path}.{os.getpid()}.new"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as target:
            target.write(data)
            target.flush()
            os.fsync(target.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return
    finally:
        os.unlink(temporary)
    _log.info("Manhole: made a new host key {path}", path=path)


@implementer(ICredentialsChecker)
class _LoggedChecker:
    """Public key logins through `inner`, each signed attempt logged with its key fingerprint."""

    credentialInterfaces = (ISSHPrivateKey,)

    def __init__(self, inner: SSHPublicKeyChecker) -> None:
        self._inner = inner

    def requestAvatarId(self, credentials: Any) -> defer.Deferred[bytes | tuple[()]]:  # noqa: N802
        attempt: defer.Deferred[bytes | tuple[()]] = self._inner.requestAvatarId(credentials)
        if credentials.signature:
            attempt.addCallbacks(
                self._accepted,
                self._refused,
                callbackArgs=(credentials,),
                errbackArgs=(credentials,),
            )
        return attempt

    @staticmethod
    def _accepted(user: bytes, credentials: Any) -> bytes:
        _log.info(
            "Manhole login by {user!r} with key {fingerprint}",
            user=user.decode("utf-8", "replace"),
            fingerprint=fingerprint(credentials.blob),
        )
        return user

    @staticmethod
    def _refused(failure: Failure, credentials: Any) -> Failure:
        _log.warn(
            "Manhole login refused for {user!r} with key {fingerprint}",
            user=credentials.username.decode("utf-8", "replace"),
            fingerprint=fingerprint(credentials.blob),
        )
        return failure


def fingerprint(blob: bytes) -> str:
    """A public key blob's fingerprint as OpenSSH shows it: `SHA256:` and unpadded base64."""
    digest = keys.Key.fromString(blob).fingerprint(keys.FingerprintFormats.SHA256_BASE64)
    return "SHA256:" + digest.rstrip("=")


class _Session(manhole_ssh.TerminalSession):
    """A terminal session that follows window resizes and ends when the client sends EOF."""

    width = 80
    height = 24

    def openShell(self, proto: Any) -> None:  # noqa: N802
        self._proto = proto
        self._transport = self.transportFactory(
            proto,
            self.chainedProtocolFactory(),
            iconch.IConchUser(self.original),
            self.width,
            self.height,
        )

    def windowChanged(self, newWindowSize: tuple[int, ...]) -> None:  # noqa: N802
        self.height, self.width = newWindowSize[:2]
        transport = getattr(self, "_transport", None)
        if transport is not None:
            transport.chainedProtocol.terminalProtocol.terminalSize(self.width, self.height)

    def eofReceived(self) -> None:  # noqa: N802
        proto = getattr(self, "_proto", None)
        if proto is not None:
            proto.loseConnection()


@implementer(portal.IRealm)
class _Realm(manhole_ssh.TerminalRealm):
    """Terminal sessions running a coloured Python prompt over a copy of `namespace`."""

    sessionFactory = _Session

    def __init__(self, namespace: dict[str, Any]) -> None:
        super().__init__()
        self._namespace = namespace
        # Twisted types this as the ServerProtocol class; any callable making one will do.
        self.chainedProtocolFactory = self._terminal  # type: ignore[assignment]

    def _terminal(self) -> insults.ServerProtocol:
        return insults.ServerProtocol(manhole.ColoredManhole, self._namespace)


class _UserAuth(userauth.SSHUserAuthServer):
    """Authentication with OpenSSH's limits: a minute to log in, six failed attempts."""

    loginTimeout = 60
    attemptsBeforeDisconnect = 6


class _Factory(factory.SSHFactory):
    """An SSH server factory with one host key."""

    noisy = False
    services = {b"ssh-userauth": _UserAuth, b"ssh-connection": connection.SSHConnection}

    def __init__(self, access: portal.Portal, key: keys.Key) -> None:
        self.portal = access
        self._key = key

    def getPublicKeys(self) -> dict[bytes, keys.Key]:  # noqa: N802
        return {self._key.sshType(): self._key.public()}

    def getPrivateKeys(self) -> dict[bytes, keys.Key]:  # noqa: N802
        return {self._key.sshType(): self._key}


def manhole_namespace(node: IClusterNode, **extra: Any) -> dict[str, Any]:
    """The usual manhole namespace: `node` (the IClusterNode), `snapshot()` and `extra`."""
    return {"node": node, "snapshot": node.snapshot, **extra}


def manhole_service(
    namespace: dict[str, Any],
    endpoint: str,
    authorized_keys: str,
    host_key_path: str,
    reactor: Any,
) -> service.IService:
    """A service named "manhole": a Python prompt over SSH on the server `endpoint`.

    Each session starts with a copy of `namespace`. Only public keys listed in the
    `authorized_keys` file may log in, under any user name. The host key is read from
    `host_key_path`, or made there on first use. Raises ManholeError for an unusable keys file
    or host key and ValueError for a malformed endpoint, before anything listens.
    """
    listen_on = endpoints.serverFromString(reactor, endpoint)
    keys_file = AuthorizedKeysFile(authorized_keys)
    count = keys_file.check()
    key = host_key(host_key_path)
    checker = _LoggedChecker(SSHPublicKeyChecker(keys_file))
    access = portal.Portal(_Realm(namespace), [checker])
    manhole_port = ListenerService(
        "manhole", listen_on, _Factory(access, key), required=False, what="Manhole", where=endpoint
    )
    _log.info(
        "Manhole on {endpoint}: {count} authorized key(s), host key {fingerprint}",
        endpoint=endpoint,
        count=count,
        fingerprint=fingerprint(key.public().blob()),
    )
    return manhole_port
