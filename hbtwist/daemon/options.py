"""How a node is reached and inspected: the daemon's options beyond the cluster configuration."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

TLS_ENDPOINT_TYPES = frozenset({"ssl", "tls"})
"""Twisted endpoint types that speak TLS (and so need pyOpenSSL)."""


@dataclass(frozen=True)
class DaemonOptions:
    """How the node is reached and inspected: everything but the cluster configuration."""

    bind_address: str | None = None
    control_socket: str | None = None
    control_tls: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_ca: str | None = None
    tls_client_names: tuple[str, ...] | None = None
    metrics: str | None = None
    manhole: str | None = None
    manhole_keys: str | None = None

    @property
    def serves_tls(self) -> bool:
        """Whether any endpoint speaks TLS: `--control-tls`, or a metrics or manhole endpoint
        of type `ssl:` or `tls:`."""
        if self.control_tls:
            return True
        kinds = (_endpoint_type(text) for text in (self.metrics, self.manhole) if text)
        return any(kind in TLS_ENDPOINT_TYPES for kind in kinds)


def _endpoint_type(description: str) -> str:
    """The type of a Twisted endpoint description: `tcp` in `tcp:9694:interface=::1`."""
    return description.split(":", 1)[0].strip().lower()


def daemon_options(get: Callable[[str], str | None]) -> DaemonOptions:
    """DaemonOptions from option values looked up by their long names (`none` disables)."""

    def value(name: str) -> str | None:
        text = get(name)
        return None if text in (None, "", "none") else text

    names = value("tls-client-name")
    return DaemonOptions(
        bind_address=value("bind-address"),
        control_socket=value("control-socket"),
        control_tls=value("control-tls"),
        tls_cert=value("tls-cert"),
        tls_key=value("tls-key"),
        tls_ca=value("tls-ca"),
        tls_client_names=tuple(n.strip() for n in names.split(",")) if names else None,
        metrics=value("metrics"),
        manhole=value("manhole"),
        manhole_keys=value("manhole-keys"),
    )
