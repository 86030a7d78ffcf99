"""Size limits of Heartbeat 3.0.6 messages (spec section 1.6)."""

MAXMSG = 262144
"""A serialized message (netstring payload or classic text) must be shorter than this."""

MAXUNCOMPRESSED = 2097152
"""Largest size a compressed payload may expand to."""

MAXDEPTH = 16
"""Deepest nesting of struct fields."""

MAXLIST = 1024
"""Largest packed size of one list field."""

MAX_LENGTH_DIGITS = 7
"""Most decimal digits a netstring length prefix may have (enough for MAXMSG)."""

MAXAUTH = 16
"""Authentication key indices run from 0 to MAXAUTH - 1."""
