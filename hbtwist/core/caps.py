"""Every bound of reliable delivery in one place: history, gaps, requests, queues and acks."""

HISTORY_SIZE = 500
"""Sent messages kept for retransmission."""

MAX_MISSING = 499
"""Most missing sequence numbers remembered per sender; the oldest are forgotten beyond it."""

MAX_RECOVERABLE_GAP = 250
"""A larger gap is not recoverable: tracking restarts at the new number."""

MAX_REXMIT_BATCH = 50
"""Most numbers one request is answered for, and most numbers one request asks for."""

MAX_ATTEMPTS = 40
"""Requests per missing number before it is given up (10 s at the default 250 ms)."""

MAX_NAK_MEMORY = 1000
"""Most recent refusals remembered for the NAK guard (the oldest are forgotten first)."""

MAX_HELD_MESSAGES = MAX_MISSING + 1
"""Most application messages held per sender while the gaps before them are repaired."""

PUMP_BATCH = 25
"""Application messages sent per turn of the event loop at most."""

FLOWCONTROL_LIMIT = 250
"""Unacknowledged messages beyond which application messages wait (never heartbeats)."""

ACK_DIVISOR = 10
"""A receiver acknowledges a sender's stream at least once per this many sequence numbers."""

LINK_REFRESH_WINDOW = 500
"""An old copy refreshes its link only if it is this close to the newest sequence number."""
