"""The PID namespace a real Heartbeat 3.0.6 runs in on a lab host: the shell that sets up its
namespaces, the init that starts the daemon and follows it across Heartbeat's restart exec, and
the /proc readings the lab uses to find and signal its processes (see `realheartbeat`)."""

from __future__ import annotations

import os
from pathlib import Path

# Sets up the new namespaces, then becomes the init of the PID namespace: $1 node name, $2 ha.d,
# $3 state dir, $4 run dir, then the init's command line.
LAUNCH = """\
set -e
hostname "$1"
mount --bind "$2" /etc/ha.d
mount --bind "$3" /var/lib/heartbeat
mount --bind "$4" /run
shift 4
exec "$@"
"""

# The init (pid 1) of the PID namespace; argv[1:] the daemon's command line. It reaps every
# child; when the master exits 0 and a child of the init (the master it forked) runs the daemon,
# that child is the master now. Otherwise the init exits with the master's status (128+N for a
# signal), which becomes unshare's.
INIT = """\
import os, sys
def running_daemon():
    with open("/proc/1/task/1/children") as children:
        for pid in children.read().split():
            try:
                if os.readlink(f"/proc/{pid}/exe") == sys.argv[1]:
                    return int(pid)
            except OSError:
                pass
    return None
master = os.spawnv(os.P_NOWAIT, sys.argv[1], sys.argv[1:])
while True:
    pid, status = os.wait()
    if pid == master:
        code = os.waitstatus_to_exitcode(status)
        master = running_daemon() if code == 0 else None
        if master is None:
            sys.exit(code if code >= 0 else 128 - code)
"""


def children(pid: int) -> list[int]:
    """The children of `pid` (the namespace's init reads its own the same way)."""
    try:
        return [int(word) for word in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def pid_namespace(pid: int) -> str | None:
    """The PID namespace of `pid`, None when it is gone."""
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return None


def exe(pid: int) -> str | None:
    """The executable `pid` runs, None when it is gone."""
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return None


def send_signal(pid: int | None, sig: int) -> None:
    """Signal `pid` unless it is None or gone."""
    if pid is None:
        return
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
