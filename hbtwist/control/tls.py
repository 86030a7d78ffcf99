"""Mutual TLS for the control port: contexts built in code, identities checked by hand.

Both sides fail closed. OpenSSL checks the chain (our CA only, not the system roots), the dates
and that the client sent a certificate at all. The identity is then checked here, after the
handshake, against the certificate's subjectAltName: Twisted's own hostname check lets a
certificate without any subjectAltName through (service_identity raises `CertificateError`
for it, which Twisted's verify callback does not catch), so it is not relied upon.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from service_identity import CertificateError, VerificationError
from service_identity.cryptography import (
    verify_certificate_hostname,
    verify_certificate_ip_address,
)
from twisted.internet import ssl

if TYPE_CHECKING:
    from cryptography import x509


class TLSSetupError(Exception):
    """A certificate, key or CA file is missing or unusable."""


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise TLSSetupError(f"cannot read the {what} {path}: {error.strerror}") from None


def load_ca(path: str) -> ssl.Certificate:
    """The CA certificate (PEM) that peers' certificates must chain to."""
    try:
        return ssl.Certificate.loadPEM(_read(path, "CA certificate"))
    except TLSSetupError:
        raise
    except Exception as error:
        raise TLSSetupError(f"{path} is not a PEM certificate: {error}") from None


def load_identity(cert_path: str, key_path: str) -> ssl.PrivateCertificate:
    """This side's certificate and private key (both PEM)."""
    cert = _read(cert_path, "certificate")
    key = _read(key_path, "private key")
    try:
        return ssl.PrivateCertificate.loadPEM(cert + b"\n" + key)
    except Exception as error:
        raise TLSSetupError(
            f"{cert_path} and {key_path} are not a matching PEM certificate and key: {error}"
        ) from None


def server_options(cert_path: str, key_path: str, ca_path: str) -> ssl.CertificateOptions:
    """Server TLS options requiring a client certificate issued by the CA in `ca_path`."""
    identity = load_identity(cert_path, key_path)
    return ssl.CertificateOptions(
        privateKey=identity.privateKey.original,
        certificate=identity.original,
        trustRoot=load_ca(ca_path),
    )


def identity_problem(certificate: x509.Certificate | None, names: Sequence[str]) -> str | None:
    """None when `certificate`'s subjectAltName matches one of `names`, else why not.

    A certificate with no subjectAltName matches nothing (its common name is never used).
    """
    if certificate is None:
        return "no certificate"
    if not names:
        return "no identity is accepted"
    problem = "subjectAltName matches none of " + ", ".join(names)
    for name in names:
        try:
            if _is_ip(name):
                verify_certificate_ip_address(certificate, name)
            else:
                verify_certificate_hostname(certificate, name)
        except CertificateError as error:
            return f"certificate refused: {error}"
        except VerificationError:
            continue
        return None
    return problem


def peer_identity_problem(transport: Any, names: Sequence[str]) -> str | None:
    """`identity_problem` for the peer certificate of a TLS transport after its handshake."""
    peer = transport.getPeerCertificate() if transport is not None else None
    return identity_problem(None if peer is None else peer.to_cryptography(), names)


def client_options(server_name: str, cert_path: str, key_path: str, ca_path: str) -> Any:
    """Client TLS options: present our certificate, trust only the CA, expect `server_name`."""
    return ssl.optionsForClientTLS(
        server_name,
        trustRoot=load_ca(ca_path),
        clientCertificate=load_identity(cert_path, key_path),
    )


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True
