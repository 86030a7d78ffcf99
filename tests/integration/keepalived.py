"""keepalived, the yardstick for failover: VRRPv3 between node1 and node2 of the scenario.

Each node runs `/usr/sbin/keepalived` (VRRP only, no scripts, so `enable_script_security` and
its rules about file locations do not apply) with its configuration, pid files and log in the
host's lab directory. One instance on eth0, unicast to the peer's LAN A address, the virtual IP
on eth0; node1 has the higher priority (and preempts). The system service is never involved.
"""

from __future__ import annotations

import os
import re
import signal

from tests.integration.failover import VIP, VIP_PREFIX, Scenario
from tests.integration.lab import Host, Lab, LabError
from tests.integration.service import (
    Prober,
    drop_address,
    holds_address,
    kill_host,
    pid_gone,
    wait_until,
)
from tests.integration.shell import stop_process

KEEPALIVED = "/usr/sbin/keepalived"
ADVERT_INT = 0.02
VRRP_ROUTER_ID = 51
PRIORITIES = {"node1": 150, "node2": 100}
STATE_RE = re.compile(r"Entering (\w+) STATE")


def keepalived_conf(host: Host, peer: Host, priority: int, advert: float) -> str:
    """A VRRPv3 instance on eth0 with unicast to `peer` and the virtual IP on eth0."""
    return (
        "global_defs {\n"
        f"  router_id {host.name}\n"
        "  vrrp_version 3\n"
        "}\n"
        "vrrp_instance VI_1 {\n"
        "  state BACKUP\n"
        "  interface eth0\n"
        f"  virtual_router_id {VRRP_ROUTER_ID}\n"
        f"  priority {priority}\n"
        f"  advert_int {advert}\n"
        f"  unicast_src_ip {host.addr_a}\n"
        f"  unicast_peer {{\n    {peer.addr_a}\n  }}\n"
        f"  virtual_ipaddress {{\n    {VIP}/{VIP_PREFIX} dev eth0\n  }}\n"
        "}\n"
    )


class Keepalived:
    """keepalived (VRRP only) running in `host`, in the foreground, logging to a file."""

    def __init__(self, lab: Lab, host: Host, peer: Host, priority: int, advert: float) -> None:
        self.host = host
        home = lab.host_dir(host)
        self.conf = home / "keepalived.conf"
        self.conf.write_text(keepalived_conf(host, peer, priority, advert))
        self.vrrp_pidfile = home / "keepalived-vrrp.pid"
        self.log = home / "keepalived.log"
        for path in (self.vrrp_pidfile, self.log):
            path.unlink(missing_ok=True)
        argv = [
            KEEPALIVED,
            "--dont-fork",
            "--log-console",
            "--log-detail",
            "--no-syslog",
            "--vrrp",
            "--dont-respawn",
            f"--use-file={self.conf}",
            f"--pid={home / 'keepalived.pid'}",
            f"--vrrp_pid={self.vrrp_pidfile}",
            f"--checkers_pid={home / 'keepalived-checkers.pid'}",
        ]
        self.proc = lab.spawn(host, argv, stdout=self.log, stderr=self.log)

    def text(self) -> str:
        """Everything keepalived logged so far."""
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def state(self) -> str | None:
        """The VRRP state it last entered (`MASTER`, `BACKUP`, `FAULT`); None before any."""
        states = STATE_RE.findall(self.text())
        return states[-1] if states else None

    def wait_state(self, state: str, timeout: float = 10.0) -> None:
        """Wait until keepalived's latest VRRP state is `state`."""

        def reached() -> bool:
            if self.proc.poll() is not None:
                raise LabError(f"keepalived on {self.host.name} exited:\n{self.text()[-2000:]}")
            return self.state() == state

        wait_until(reached, timeout, f"keepalived on {self.host.name} in {state} state")

    def vrrp_pid(self) -> int:
        """The process id of the VRRP child (the process that speaks VRRP)."""
        wait_until(self.vrrp_pidfile.exists, 10.0, f"{self.vrrp_pidfile.name} on {self.host.name}")
        return int(self.vrrp_pidfile.read_text().split()[0])

    def kill(self) -> None:
        """SIGKILL the VRRP child, then, once the parent has reaped it, the parent (reaped here).

        Killed first, the parent would leave the child a zombie that nobody reaps in the lab.
        """
        child = self.vrrp_pid()
        os.kill(child, signal.SIGKILL)
        wait_until(lambda: pid_gone(child), 5.0, f"keepalived's VRRP child {child} reaped")
        self.proc.kill()
        self.proc.wait(timeout=5.0)

    def stop(self) -> None:
        """Stop keepalived (SIGTERM: it releases the virtual IP) and reap it."""
        stop_process(self.proc)


class KeepalivedPair:
    """keepalived on node1 (master) and node2 (backup) of `scenario`, started fresh by `start`."""

    def __init__(self, scenario: Scenario, advert: float = ADVERT_INT) -> None:
        self.scenario = scenario
        self.advert = advert
        self.daemons: dict[str, Keepalived] = {}

    def _start(self, host: Host) -> Keepalived:
        peer = self.scenario.peer(host)
        daemon = Keepalived(self.scenario.lab, host, peer, PRIORITIES[host.name], self.advert)
        self.daemons[host.name] = daemon
        return daemon

    def start(self, prober: Prober, since: float, timeout: float = 10.0) -> None:
        """Start node1 then node2; return once node1 is master, node2 backup without the
        virtual IP, and the client hears node1 at it (replies received after `since`)."""
        node1, node2 = self.scenario.nodes
        self._start(node1).wait_state("MASTER", timeout)
        self._start(node2).wait_state("BACKUP", timeout)
        wait_until(lambda: not holds_address(node2, VIP), timeout, "node2 without the virtual IP")
        prober.wait_answering(node1.name, since, timeout=timeout)

    def kill_master(self) -> float:
        """node1 dies: its cables cut and its keepalived SIGKILLed at once; the time of death."""
        return kill_host(self.scenario.lab, self.scenario.node1, self.daemons["node1"].kill)

    def reset(self) -> None:
        """Stop both daemons, remove the virtual IP wherever it stayed, plug every cable back."""
        for daemon in self.daemons.values():
            daemon.stop()
        self.daemons.clear()
        for host in self.scenario.nodes:
            drop_address(host, VIP, VIP_PREFIX)
            for lan in ("a", "b"):
                self.scenario.lab.heal(host, lan)
