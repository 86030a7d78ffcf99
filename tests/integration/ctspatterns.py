"""The log patterns of Heartbeat's Cluster Test Suite (spec 10): those of `CM_hb.py`, verbatim,
which every CTS test of `cts.py` and `ctsfaults.py` waits for, the lines a test expects to be
bad news, and the lab's own patterns for what CTS watches without a pattern of its own (a fence,
a link's status, a group changing hands).
"""

from __future__ import annotations

# CM_hb.py's patterns, verbatim.
WE_STARTED = r" (%s) .* Initial resource acquisition complete"
THEY_STARTED = r" (%s) .* Initial resource acquisition complete"
WE_STOPPED = r"%s heartbeat.*Heartbeat shutdown complete"
THEY_STOPPED = r"%s heartbeat.*node (%s).*: is dead"
THEY_DEAD = r"node (%s).*: is dead"
ALL_STOPPED = r" (%s).*heartbeat.*Heartbeat shutdown complete"
STANDBY_OK = r"Standby resource acquisition done"
STANDBY_NONE = r"No reply to standby request"
STANDBY_TRANSIENT = r"standby message.*ignored.*in flux"
RETURN_PARTITION = r"Cluster node %s returning after partition"
SPLIT_BRAIN_EXPECTED = (
    r"ERROR:.*Both machines own.*resources",
    r"ERROR:.*lost a lot of packets!",
    r"ERROR: Cannot rexmit pkt .*: seqno too low",
    r"ERROR: Irretrievably lost packet: node",
    r"CRIT: Cluster node .* returning after partition",
)
"""Split_brainTest's `errorstoignore`: the bad news a partition brings by design."""
BAD_REGEXES = (
    r"Shutting down\.",
    r"Forcing shutdown\.",
    r"Both machines own .* resources!",
    r"No one owns .* resources!",
    r", exiting\.",
    r"ERROR:",
    r"CRIT.*:",
)

# The lab's patterns, in the wording of Heartbeat 3.0.6 (spec 6.2, 8.6) that hbtwist shares.
FENCE_STARTED = r" (%s) heartbeat.*Resetting node (%s) with \["
"""(fencing node, node reset): a survivor starts to reset a dead node."""
FENCE_DONE = r" (%s) heartbeat.*node (%s) now reset\."
"""(fencing node, node reset): its STONITH device said the node was reset."""
LINK_STATUS = r" (%s) heartbeat.*Link (%s):(%s) (%s)\."
"""(reporting node, peer, interface, `up` or `dead`): a link's status changed."""
GROUP_MOVES = (
    r"node \S+: is dead",
    r"Resource group \S+: \S+ -> ",
    r"(Acquiring|Releasing) resource group",
    r"Resources being acquired from",
)
"""Lines that tell of a group changing hands, or of a death that makes one change: hbtwist's
group state changes, Heartbeat's `ResourceManager` acquiring or releasing a group."""
