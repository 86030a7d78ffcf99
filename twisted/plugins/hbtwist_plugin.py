"""The `twistd heartbeat` plugin: a lazy pointer to `hbtwist.daemon.tap`, so `--help` stays fast."""

from twisted.application.service import ServiceMaker

heartbeat = ServiceMaker(
    "hbtwist heartbeat daemon",
    "hbtwist.daemon.tap",
    "A Heartbeat-3.0.6-compatible cluster heartbeat daemon.",
    "heartbeat",
)
