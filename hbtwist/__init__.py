"""hbtwist: a high-availability cluster heartbeat daemon, wire-compatible with Heartbeat 3.0.6."""

__version__ = "0.1.0"
