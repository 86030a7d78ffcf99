"""Starting the daemon: load the configuration and build the service tree, or exit with one
clear line per problem and a documented status (doc/running.md, "Exit status")."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, NoReturn

from hbtwist.config import ClusterConfig, ConfigError, load_config
from hbtwist.control.setuperrors import ControlSetupError, ManholeError
from hbtwist.daemon.options import DaemonOptions
from hbtwist.daemon.state import StateError
from hbtwist.daemon.withheld import withhold_tls
from hbtwist.media.registry import medium_parsers

if TYPE_CHECKING:
    from hbtwist.daemon.services import HeartbeatService

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
    directory, control socket, TLS files, metrics or manhole setting exit 1 (one line).

    A daemon none of whose endpoints speaks TLS is built without pyOpenSSL (`withheld`), and
    runs on `HeartbeatReactor` unless a reactor was chosen (`twistd --reactor`) or imported.
    """
    options = options or DaemonOptions()
    if not options.serves_tls:
        withhold_tls()
    from hbtwist.daemon.reactor import install_if_unset

    install_if_unset()
    from hbtwist.daemon.services import build_service

    try:
        return build_service(config, state_dir, options)
    except ConfigError as error:
        _exit_invalid(error)
    except (StateError, ControlSetupError, ManholeError, ValueError) as error:
        print(f"hbtwist: {error}", file=sys.stderr)
        raise SystemExit(STATE_EXIT_STATUS) from None


def _exit_invalid(error: ConfigError) -> NoReturn:
    for problem in error.problems:
        print(problem, file=sys.stderr)
    print("hbtwist: configuration invalid, not starting", file=sys.stderr)
    raise SystemExit(INVALID_EXIT_STATUS) from None
