"""The one error family raised by the wire codec."""


class WireError(ValueError):
    """Raised for any datagram or frame that cannot be accepted; the only error decoding raises."""


class MalformedPacket(WireError):
    """The bytes are not a well-formed Heartbeat message (bad framing, bad field, over a limit)."""


class AuthenticationFailed(WireError):
    """The message is well-formed but its authentication code is missing, unknown or wrong."""


class EncodeError(WireError):
    """A message cannot be serialized (bad field name, value over a limit)."""
