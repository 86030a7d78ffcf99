"""ha.cf `realtime` / `rtprio`: run the node at a real-time priority, as Heartbeat does.

A heartbeat daemon with a 60 ms deadtime must not wait behind busy processes; Heartbeat 3.0.6
runs with SCHED_FIFO by default. hbtwist uses SCHED_RR at `rtprio` (default 1, the lowest
real-time priority) with SCHED_RESET_ON_FORK, so resource scripts and agents it starts run at
normal priority. Memory is not locked (mlockall is often refused, and Python's heap grows).
"""

from __future__ import annotations

import os

from twisted.logger import Logger

DEFAULT_PRIORITY = 1

_log = Logger()


def enter_realtime(enabled: bool, priority: int | None) -> bool:
    """Switch this process to SCHED_RR when `enabled`; True on success. A refusal (no
    CAP_SYS_NICE, a container's limits) is logged once and the node carries on."""
    if not enabled:
        return False
    policy = os.SCHED_RR | os.SCHED_RESET_ON_FORK
    level = DEFAULT_PRIORITY if priority is None else priority
    level = max(
        os.sched_get_priority_min(os.SCHED_RR), min(level, os.sched_get_priority_max(os.SCHED_RR))
    )
    try:
        os.sched_setscheduler(0, policy, os.sched_param(level))
    except OSError as error:
        _log.warn("Cannot run at real-time priority ({error}); running at normal priority.", error=error)
        return False
    _log.info("Running at real-time priority {priority} (SCHED_RR).", priority=level)
    return True
