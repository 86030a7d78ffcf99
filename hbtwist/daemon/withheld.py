"""Keep pyOpenSSL out of a daemon that serves nothing over TLS.

Twisted's reactor and its AMP module import pyOpenSSL (and with it `cryptography`) when they
are first imported, for TLS support they may never use: about 13 MB of resident memory on
every node. The daemon knows from its options whether any endpoint speaks TLS; when none does
and nothing has loaded the reactor or pyOpenSSL yet, it marks pyOpenSSL absent for the process,
so those imports take their "no TLS" branch.
"""

from __future__ import annotations

import sys

TLS_MODULE = "OpenSSL"


def withhold_tls() -> bool:
    """Mark pyOpenSSL absent for this process; True if it is withheld.

    Does nothing once the reactor or pyOpenSSL is loaded: from then on the process's TLS
    support is settled, and withholding would only break code that already holds it.
    """
    loaded = sys.modules.get(TLS_MODULE, False)
    if loaded is None:
        return True
    if loaded or "twisted.internet.reactor" in sys.modules:
        return False
    sys.modules[TLS_MODULE] = None  # type: ignore[assignment]
    return True
