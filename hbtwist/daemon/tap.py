"""`twistd heartbeat`: command-line options, configuration check and the root service."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import NoReturn

from twisted.python import usage

from hbtwist.config import ClusterConfig, ConfigError, load_config
from hbtwist.control.service import DEFAULT_SOCKET, ControlSetupError
from hbtwist.daemon.services import DaemonOptions, HeartbeatService, build_service
from hbtwist.control.manhole import ManholeError
from hbtwist.media.registry import medium_parsers
from hbtwist.daemon.state import StateError

DEFAULT_CONFIG_DIR = "/etc/ha.d"
DEFAULT_STATE_DIR = "/var/lib/hbtwist"
INVALID_EXIT_STATUS = 2
STATE_EXIT_STATUS = 1


def load_or_exit(config_dir: str, node_name: str | None) -> ClusterConfig:
    """Load and check the configuration in `config_dir`, or report every problem and exit 2.

    Warnings go to stderr and start-up goes on; problems go to stderr one per line as
    `FILE:LINE: problem`, followed by one closing line, and the process exits with status 2
    (no traceback, no usage text).
    """
    try:
        config = load_config(config_dir, local_node=node_name, media=medium_parsers())
    except ConfigError as error:
        _exit_invalid(error)
    for warning in config.warnings:
        print(f"hbtwist: warning: {warning}", file=sys.stderr)
    return config


def build_or_exit(
    config: ClusterConfig, state_dir: str, options: DaemonOptions | None = None
) -> HeartbeatService:
    """Build the service tree, or report why not: bad media exit 2; an unusable state
    directory, control socket, TLS files, metrics or manhole setting exit 1 (one line)."""
    try:
        return build_service(config, state_dir, options or DaemonOptions())
    except ConfigError as error:
        _exit_invalid(error)
    except (StateError, ControlSetupError, ManholeError, ValueError) as error:
        print(f"hbtwist: {error}", file=sys.stderr)
        raise SystemExit(STATE_EXIT_STATUS) from None


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


def _exit_invalid(error: ConfigError) -> NoReturn:
    for problem in error.problems:
        print(problem, file=sys.stderr)
    print("hbtwist: configuration invalid, not starting", file=sys.stderr)
    raise SystemExit(INVALID_EXIT_STATUS) from None


class Options(usage.Options):
    """Options of `twistd heartbeat`; parsing them loads and checks the configuration."""

    synopsis = "[--config-dir DIR] [--state-dir DIR] [--node-name NAME] [options]"
    longdesc = (
        "Run one node of a Heartbeat-3.0.6-compatible cluster. The configuration (ha.cf, "
        "authkeys, haresources) is read from the configuration directory and checked before "
        "anything starts; if it is invalid every problem is printed as FILE:LINE: problem and "
        "the command exits with status 2."
    )
    optParameters = [
        [
            "config-dir",
            None,
            DEFAULT_CONFIG_DIR,
            "Directory holding ha.cf, authkeys, haresources and optionally nodeinfo.",
        ],
        [
            "state-dir",
            None,
            DEFAULT_STATE_DIR,
            "Directory for this node's persistent state.",
        ],
        [
            "node-name",
            None,
            None,
            "This node's name [default: first line of CONFIG-DIR/nodeinfo, else uname -n].",
        ],
        [
            "bind-address",
            None,
            None,
            "Bind the UDP media to this local address instead of binding them to their "
            "interfaces (lets several nodes share one host, e.g. 127.0.0.2).",
        ],
        [
            "control-socket",
            None,
            DEFAULT_SOCKET,
            "UNIX socket of the control port (mode 0600, or 0660 for group haclient); "
            "'none' disables it.",
        ],
        [
            "control-tls",
            None,
            None,
            "Also serve the control port on this TCP endpoint (e.g. tcp:1694:interface=10.0.0.1), "
            "with mutual TLS only: needs --tls-cert, --tls-key and --tls-ca.",
        ],
        ["tls-cert", None, None, "PEM certificate of this node for --control-tls."],
        ["tls-key", None, None, "PEM private key of that certificate."],
        ["tls-ca", None, None, "PEM CA certificate that client certificates must chain to."],
        [
            "tls-client-name",
            None,
            None,
            "Comma-separated names a client certificate's subjectAltName must match "
            "[default: the cluster's node names].",
        ],
        [
            "metrics",
            None,
            None,
            "Serve OpenMetrics at /metrics on this endpoint (e.g. tcp:9694:interface=127.0.0.1).",
        ],
        [
            "manhole",
            None,
            None,
            "Serve an SSH Python prompt on this endpoint (e.g. tcp:9695:interface=127.0.0.1); "
            "key-only, needs --manhole-keys.",
        ],
        ["manhole-keys", None, None, "authorized_keys file of the keys allowed into the manhole."],
    ]

    def opt_version(self) -> NoReturn:
        """Print hbtwist's version and the Heartbeat protocol it speaks, then exit."""
        from hbtwist import __version__

        print(f"hbtwist {__version__} (Heartbeat 3.0.6 protocol)")
        sys.exit(0)

    def postOptions(self) -> None:
        """Load the configuration now, so a bad one stops `twistd` before it daemonizes."""
        self["config"] = load_or_exit(self["config-dir"], self["node-name"])


def makeService(options: Options) -> HeartbeatService:
    """The root `heartbeat` service for the configuration loaded by `options`."""
    return build_or_exit(options["config"], options["state-dir"], daemon_options(options.get))
