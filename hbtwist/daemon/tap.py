"""`twistd heartbeat`: command-line options, configuration check and the root service."""

from __future__ import annotations

import ipaddress
import sys
from typing import TYPE_CHECKING, NoReturn

from twisted.python import usage

from hbtwist import __version__
from hbtwist.control import DEFAULT_SOCKET
from hbtwist.daemon.options import daemon_options
from hbtwist.daemon.startup import (
    DEFAULT_CONFIG_DIR,
    DEFAULT_STATE_DIR,
    build_or_exit,
    load_or_exit,
)

if TYPE_CHECKING:
    from hbtwist.daemon.services import HeartbeatService


class Options(usage.Options):
    """Options of `twistd heartbeat`; parsing them loads and checks the configuration."""

    synopsis = "[--config-dir DIR] [--state-dir DIR] [--node-name NAME] [options]"
    longdesc = (
        "Run one node of a Heartbeat-3.0.6-compatible cluster. The configuration (ha.cf, "
        "authkeys, haresources, optional hbtwist.cf) is read from the configuration directory "
        "and checked before anything starts; if it is invalid every problem is printed as "
        "FILE:LINE: problem and the command exits with status 2. On SIGTERM the node releases "
        "its resource groups before it leaves the cluster."
    )
    optParameters = [
        [
            "config-dir",
            None,
            DEFAULT_CONFIG_DIR,
            "Directory holding ha.cf, authkeys, haresources and optionally hbtwist.cf and nodeinfo.",
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
        print(f"hbtwist {__version__} (Heartbeat 3.0.6 protocol)")
        sys.exit(0)

    def postOptions(self) -> None:
        """Check the options and load the configuration now, so a bad one stops `twistd`
        before it daemonizes."""
        address = self["bind-address"]
        if address not in (None, "", "none"):
            try:
                ipaddress.ip_address(address)
            except ValueError:
                raise usage.UsageError(f"--bind-address: {address!r} is not an IP address") from None
        self["config"] = load_or_exit(self["config-dir"], self["node-name"])


def makeService(options: Options) -> HeartbeatService:
    """The root `heartbeat` service for the configuration loaded by `options`."""
    return build_or_exit(options["config"], options["state-dir"], daemon_options(options.get))
