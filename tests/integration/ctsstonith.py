"""The CTS lab's STONITH device: a power switch of the lab's hosts, installed as a cluster-glue
`external/` device type for the run (`installed_device_type`), used by the exerciser's Stonith
test (`PowerSwitch.reset`: `stonith -T reset` from the test process, as CTS's `ResetNode` runs it)
and, in ha.cf's `stonith_host` (`PowerSwitch.stonith_host`), by the nodes that fence a dead peer.

A reset powers a node off: every process of its network namespace is killed hard (SIGKILL, until
none is left), and what a reboot drops is gone: the addresses its groups added (eth0's secondary
addresses), its neighbour table, its Marker state files and the daemon's pidfile. The node stays
off until CTS starts its daemon again, which is its boot. A real reset power-cycles the node,
and the node boots by itself; here the test boots it once the peers have logged it dead and,
when their ha.cf names the device, reset it themselves. That is the order CTS sees with
Heartbeat (its DeadTime of 30 s is far shorter than a boot): the peers' reset finds the node still
booting and power-cycles it again, and the node then comes up. Booting the node only after the
peers' reset keeps that reset from racing with the node's start (a reset that killed the daemon
just started would make the run depend on timing).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from hbtwist.config.checks import STONITH_PROGRAM
from tests.integration.ctsnode import MARKERS_DIR, PIDFILE
from tests.integration.lab import Lab, LabError
from tests.integration.shell import run
from tests.prereq import require

PLUGIN_DIR = Path("/usr/lib/stonith/plugins/external")
"""Where cluster-glue's `external/` device types live (`dpkg -L cluster-glue`)."""
POWER_SWITCH_NAME = f"hbtcts{os.getpid()}-power"
"""The device type's name: unique to this run, so parallel runs do not collide."""
RESET_TIMEOUT_S = 30.0
"""A reset: cluster-glue's `stonith` takes about 1 s before the device script runs."""

POWER_SWITCH = f"""\
#!/bin/sh
# hbtwist CTS lab STONITH device: powers a lab node off. Parameters (stonith -p, in order):
# prefix = the lab's namespace prefix, labdir = the lab's work directory (a node's files are in
# labdir/NODE). A reset kills every process of the node's network namespace, then drops what a
# reboot drops: eth0's secondary addresses, the neighbour table, the Marker state files and the
# daemon's pidfile. The node boots when CTS starts its daemon.
case "$1" in
reset|off)
    netns="$prefix$2"
    pids=$(ip netns pids "$netns") || exit 1
    tries=0
    while [ -n "$pids" ]; do
        [ "$tries" -lt 50 ] || exit 1
        kill -9 $pids 2>/dev/null
        sleep 0.1
        tries=$((tries + 1))
        pids=$(ip netns pids "$netns") || exit 1
    done
    ip -n "$netns" addr flush dev eth0 secondary || exit 1
    ip -n "$netns" neigh flush all || exit 1
    rm -f "$labdir/$2/{MARKERS_DIR}/"* "$labdir/$2/{PIDFILE}"
    exit 0 ;;
on) exit 1 ;;
gethosts|status) exit 0 ;;
getconfignames) printf '%s\\n' prefix labdir; exit 0 ;;
getinfo-devid|getinfo-devname) echo "hbtwist CTS lab power switch"; exit 0 ;;
getinfo-devdescr) echo "Powers a CTS lab node off"; exit 0 ;;
getinfo-devurl) echo "https://example.invalid/"; exit 0 ;;
getinfo-xml) echo "<parameters/>"; exit 0 ;;
*) exit 1 ;;
esac
"""


@contextmanager
def installed_device_type(name: str, script: str) -> Iterator[str]:
    """`script` installed as cluster-glue's device type `external/<name>` while the block runs
    (checked in `stonith -L`), removed afterwards; yields the type."""
    require(
        os.access(STONITH_PROGRAM, os.X_OK), f"needs {STONITH_PROGRAM} (Debian package cluster-glue)"
    )
    require(PLUGIN_DIR.is_dir(), f"needs {PLUGIN_DIR} (Debian package cluster-glue)")
    path = PLUGIN_DIR / name
    device_type = f"external/{name}"
    try:
        path.write_text(script)
        path.chmod(0o755)
        if device_type not in run([STONITH_PROGRAM, "-L"]).stdout.split():
            raise LabError(f"{STONITH_PROGRAM} -L does not list {device_type}")
        yield device_type
    finally:
        path.unlink(missing_ok=True)


@dataclass(frozen=True)
class PowerSwitch:
    """The power switch (device type `device_type`, from `installed_device_type`) of one lab's
    hosts."""

    device_type: str
    lab: Lab

    @property
    def parameters(self) -> str:
        """The device's parameters, in its `getconfignames` order: prefix, labdir."""
        return f"{self.lab.prefix} {self.lab.workdir}"

    @property
    def stonith_host(self) -> str:
        """The ha.cf line that gives every node this device."""
        return f"stonith_host * {self.device_type} {self.parameters}"

    def reset(self, node: str) -> None:
        """CTS's `ResetNode`: `stonith -t TYPE -p PARAMETERS -T reset NODE` from the exerciser
        (this process); LabError unless the device said the node was reset."""
        argv = [STONITH_PROGRAM, "-t", self.device_type, "-p", self.parameters, "-T", "reset", node]
        run(argv, timeout=RESET_TIMEOUT_S)
