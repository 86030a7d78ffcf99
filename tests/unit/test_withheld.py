"""Which daemons are built without pyOpenSSL, and that withholding it never breaks a loaded one."""

from __future__ import annotations

import sys

import pytest

from hbtwist.daemon.options import DaemonOptions
from hbtwist.daemon.withheld import TLS_MODULE, withhold_tls


@pytest.mark.parametrize(
    "options",
    [
        DaemonOptions(),
        DaemonOptions(control_socket="/run/hbtwist/control.sock"),
        DaemonOptions(metrics="tcp:9694:interface=127.0.0.1"),
        DaemonOptions(manhole="unix:/run/hbtwist/manhole", manhole_keys="/etc/keys"),
    ],
)
def test_plain_endpoints_serve_no_tls(options: DaemonOptions) -> None:
    """A UNIX control socket and plain TCP or UNIX metrics and manhole endpoints need no TLS."""
    assert not options.serves_tls


@pytest.mark.parametrize(
    "options",
    [
        DaemonOptions(control_tls="tcp:1694:interface=192.0.2.1"),
        DaemonOptions(metrics="ssl:9694:privateKey=key.pem"),
        DaemonOptions(manhole=" TLS:host=::1:port=9695", manhole_keys="/etc/keys"),
    ],
)
def test_tls_endpoints_serve_tls(options: DaemonOptions) -> None:
    """The TLS control port and an `ssl:` or `tls:` endpoint (any case) need pyOpenSSL."""
    assert options.serves_tls


def test_withholding_leaves_a_loaded_reactor_alone() -> None:
    """Once the reactor is loaded (as in this process), withholding reports False and changes
    nothing, so code that already holds TLS support keeps it."""
    from twisted.internet import reactor  # noqa: F401

    before = sys.modules.get(TLS_MODULE, "absent")
    assert withhold_tls() is False
    assert sys.modules.get(TLS_MODULE, "absent") is before
