"""The control plane: an AMP service on a UNIX socket (and optionally mutual TLS) for `hbctl`.

`protocol` is the public command set (see doc/control-protocol.md), `view` reads a running node,
`server` answers the commands, `service` builds the listeners, `tls` holds the certificate
checks and `client` is what `hbctl` uses to talk to a daemon.
"""

DEFAULT_SOCKET = "/run/hbtwist/control.sock"
"""The control port's UNIX socket unless `--control-socket` says otherwise (hbctl's default too)."""
