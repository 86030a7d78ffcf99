"""hbtwist as a twistd application file: `twistd -ny tac/heartbeat.tac`.

Settings come from the environment: HBTWIST_CONFIG_DIR (default /etc/ha.d), HBTWIST_STATE_DIR
(default /var/lib/hbtwist), HBTWIST_NODE_NAME (default: nodeinfo, else uname -n), and for every
other `twistd heartbeat` option the variable HBTWIST_<OPTION> with dashes as underscores, e.g.
HBTWIST_BIND_ADDRESS, HBTWIST_CONTROL_SOCKET (default /run/hbtwist/control.sock; `none`
disables it), HBTWIST_METRICS. An invalid configuration is reported as FILE:LINE: problem lines
and twistd exits with status 2.
"""

import os

from twisted.application import service

from hbtwist.control import DEFAULT_SOCKET
from hbtwist.daemon.options import daemon_options
from hbtwist.daemon.startup import (
    DEFAULT_CONFIG_DIR,
    DEFAULT_STATE_DIR,
    build_or_exit,
    load_or_exit,
)


def setting(option):
    """The environment's value for a `twistd heartbeat` option."""
    default = DEFAULT_SOCKET if option == "control-socket" else None
    return os.environ.get("HBTWIST_" + option.upper().replace("-", "_"), default)


config = load_or_exit(setting("config-dir") or DEFAULT_CONFIG_DIR, setting("node-name") or None)
application = service.Application("hbtwist")
build_or_exit(
    config, setting("state-dir") or DEFAULT_STATE_DIR, daemon_options(setting)
).setServiceParent(application)
