"""Why an inspection port cannot be set up, in one line each.

Apart from what the ports themselves need, so the daemon can catch these without loading TLS or
the SSH manhole on a node that serves neither.
"""


class ControlSetupError(Exception):
    """The control plane cannot start as configured (the message says why, in one line)."""


class ManholeError(Exception):
    """The manhole cannot be set up: unusable authorized_keys file or host key."""
