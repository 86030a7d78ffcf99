"""hbtwist as a twistd application file: `twistd -ny tac/heartbeat.tac`.

Settings come from the environment: HBTWIST_CONFIG_DIR (default /etc/ha.d), HBTWIST_STATE_DIR
(default /var/lib/hbtwist), HBTWIST_NODE_NAME (default: nodeinfo, else uname -n) and
HBTWIST_BIND_ADDRESS (default: bind the UDP media to their interfaces). An invalid
configuration is reported as FILE:LINE: problem lines and twistd exits with status 2.
"""

import os

from twisted.application import service

from hbtwist.tap import DEFAULT_CONFIG_DIR, DEFAULT_STATE_DIR, build_or_exit, load_or_exit

config = load_or_exit(
    os.environ.get("HBTWIST_CONFIG_DIR", DEFAULT_CONFIG_DIR),
    os.environ.get("HBTWIST_NODE_NAME") or None,
)
application = service.Application("hbtwist")
build_or_exit(
    config,
    os.environ.get("HBTWIST_STATE_DIR", DEFAULT_STATE_DIR),
    os.environ.get("HBTWIST_BIND_ADDRESS") or None,
).setServiceParent(application)
