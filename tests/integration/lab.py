"""A lab of hosts made of network namespaces, for running real daemons side by side.

Layout (see doc/testing.md)::

    <prefix>sw    the "switch": bridges lana (LAN A, 192.0.2.0/24) and lanb (LAN B, 198.51.100.0/24)
    <prefix>NAME  a host: lo, eth0 on LAN A (192.0.2.(10+index)), eth1 on LAN B (198.51.100.(10+index))

Each host's eth0/eth1 is one end of a veth pair whose other end (`NAMEa`/`NAMEb`) is a port of
the bridge in the switch namespace; a cable cut is that port set down. Nothing is routed out of
the namespaces and no address outside the two documentation ranges is used.

The prefix is `hbt<pid>x<n>-`, unique per lab and per process, so parallel runs do not collide
and `cleanup_stale()` can find what a crashed run (a dead pid) left behind.

Every wait is bounded; `Lab.close()` kills and reaps every process the lab started, deletes every
namespace it made and is safe to call more than once.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.integration.nodelog import Node, View, describe_event
from tests.integration.shell import (
    COMMAND_TIMEOUT,
    LabError,
    pid_alive,
    run,
    stop_process,
    stop_processes,
)

__all__ = [
    "Host",
    "Lab",
    "LabError",
    "Node",
    "SerialLine",
    "View",
    "cleanup_stale",
    "describe_event",
    "namespaces",
]

LAN_A = "192.0.2"
LAN_B = "198.51.100"
BRIDGES = {"a": "lana", "b": "lanb"}
INTERFACES = {"a": "eth0", "b": "eth1"}
LOSS_TABLE = "hbtloss"
PREFIX_RE = re.compile(r"hbt(\d+)x(\d+)-")
_HOST_NAME_RE = re.compile(r"[a-z][a-z0-9]{0,12}")
_lab_numbers = itertools.count()


def namespaces() -> list[str]:
    """The names of every network namespace on this machine."""
    result = run(["ip", "netns", "list"], check=False)
    return [line.split()[0] for line in result.stdout.splitlines() if line.strip()]


def _kill_pids(pids: Iterable[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _netns_pids(netns: str) -> list[int]:
    result = run(["ip", "netns", "pids", netns], check=False)
    return [int(word) for word in result.stdout.split() if word.isdigit()]


def cleanup_stale() -> list[str]:
    """Remove the namespaces (and kill the processes) of labs whose creating process is dead.

    Only names of the form `hbt<pid>x<n>-...` whose pid no longer runs are touched. Returns the
    namespaces deleted.
    """
    removed = []
    for netns in namespaces():
        match = PREFIX_RE.match(netns)
        if match and not pid_alive(int(match.group(1))):
            _kill_pids(_netns_pids(netns))
            if run(["ip", "netns", "del", netns], check=False).returncode == 0:
                removed.append(netns)
    # socat serial lines run outside the namespaces; their link paths carry the lab prefix.
    for proc_dir in Path("/proc").iterdir():
        if not proc_dir.name.isdigit():
            continue
        try:
            argv = (proc_dir / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if not argv or not argv[0].endswith(b"socat"):
            continue
        for word in argv:
            match = PREFIX_RE.search(word.decode(errors="replace"))
            if match and not pid_alive(int(match.group(1))):
                _kill_pids([int(proc_dir.name)])
                break
    return removed


@dataclass
class Host:
    """One host of the lab: a network namespace with eth0 on LAN A and eth1 on LAN B."""

    lab: Lab = field(repr=False)
    name: str
    index: int
    netns: str
    addr_a: str
    addr_b: str

    def run(
        self, *argv: str, check: bool = True, timeout: float = COMMAND_TIMEOUT, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run a command inside this host's namespace, to completion (bounded)."""
        return run(["ip", "netns", "exec", self.netns, *argv], check=check, timeout=timeout, input=input)

    def address(self, lan: str) -> str:
        """This host's address on LAN "a" or "b"."""
        return {"a": self.addr_a, "b": self.addr_b}[lan]


@dataclass
class SerialLine:
    """A null-modem cable between two hosts: socat joining two ptys linked at `path_a`/`path_b`."""

    a: Host
    b: Host
    path_a: Path
    path_b: Path
    proc: subprocess.Popen[Any] | None = None


def _twistd_command() -> list[str]:
    twistd = Path(sys.executable).parent / "twistd"
    if twistd.exists():
        return [str(twistd)]
    return [sys.executable, "-c", "import sys; from twisted.scripts.twistd import run; sys.exit(run())"]


def _hbctl_command() -> list[str]:
    hbctl = Path(sys.executable).parent / "hbctl"
    if hbctl.exists():
        return [str(hbctl)]
    return [sys.executable, "-c", "import sys; from hbtwist.cli.main import main; sys.exit(main())"]


HBCTL = _hbctl_command()
"""The command that runs hbctl from this environment."""


def control_address(lab: Lab, node: Node) -> str:
    """The `--control` address of `node`'s UNIX socket (as `Lab._launch` places it)."""
    return f"unix:{lab.host_dir(node.host) / 'control.sock'}"


class Lab:
    """Hosts made of network namespaces joined by two switched LANs, plus serial cables.

    Usable as a context manager; `close()` undoes everything (also after a failure).
    """

    def __init__(self, workdir: Path) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.prefix = f"hbt{os.getpid()}x{next(_lab_numbers)}-"
        self.switch = f"{self.prefix}sw"
        self.hosts: dict[str, Host] = {}
        self.nodes: list[Node] = []
        self.serial_lines: list[SerialLine] = []
        self._namespaces: list[str] = []
        self._processes: list[subprocess.Popen[Any]] = []
        self._loss: set[str] = set()
        self._closed = False
        try:
            self._add_namespace(self.switch)
            self._switch("link", "set", "lo", "up")
            for bridge in BRIDGES.values():
                options = ("forward_delay", "0", "stp_state", "0", "mcast_snooping", "0")
                self._switch("link", "add", bridge, "type", "bridge", *options)
                self._switch("link", "set", bridge, "up")
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _add_namespace(self, netns: str) -> None:
        run(["ip", "netns", "add", netns])
        self._namespaces.append(netns)

    def _switch(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return run(["ip", "-n", self.switch, *argv])

    # Hosts and cables

    def add_host(self, name: str, index: int) -> Host:
        """A host `name` with eth0 = 192.0.2.(10+index)/24 and eth1 = 198.51.100.(10+index)/24."""
        if not _HOST_NAME_RE.fullmatch(name) or name in self.hosts:
            raise ValueError(f"bad or repeated host name {name!r}")
        if not 0 <= index <= 240:
            raise ValueError(f"host index {index} out of range 0..240")
        netns = self.prefix + name
        host = Host(self, name, index, netns, f"{LAN_A}.{10 + index}", f"{LAN_B}.{10 + index}")
        self._add_namespace(netns)
        self.hosts[name] = host
        run(["ip", "-n", netns, "link", "set", "lo", "up"])
        for lan, bridge in BRIDGES.items():
            port, interface = self._port(host, lan), INTERFACES[lan]
            self._switch("link", "add", port, "type", "veth", "peer", "name", interface, "netns", netns)
            self._switch("link", "set", port, "master", bridge, "up")
            address = host.address(lan)
            run(["ip", "-n", netns, "addr", "add", f"{address}/24", "brd", "+", "dev", interface])
            run(["ip", "-n", netns, "link", "set", interface, "up"])
        return host

    @staticmethod
    def _port(host: Host, lan: str) -> str:
        if lan not in BRIDGES:
            raise ValueError(f"no LAN {lan!r} (use 'a' or 'b')")
        return f"{host.name}{lan}"

    def cut(self, host: Host, lan: str) -> float:
        """Unplug `host` from LAN `lan` (its bridge port goes down); the time just before the cut."""
        port = self._port(host, lan)
        when = time.time()
        self._switch("link", "set", port, "down")
        return when

    def heal(self, host: Host, lan: str) -> float:
        """Plug `host` back into LAN `lan`; the time just before."""
        port = self._port(host, lan)
        when = time.time()
        self._switch("link", "set", port, "up")
        return when

    def set_loss(self, host: Host, percent: int) -> None:
        """Drop `percent` % of what `host` receives on its network interfaces (0: no loss)."""
        if not 0 <= percent <= 100:
            raise ValueError(f"loss {percent} % out of range")
        if percent == 0:
            if host.name in self._loss:
                host.run("nft", "delete", "table", "inet", LOSS_TABLE)
                self._loss.discard(host.name)
            return
        ruleset = (
            f"add table inet {LOSS_TABLE}\n"
            f"delete table inet {LOSS_TABLE}\n"
            f"table inet {LOSS_TABLE} {{\n"
            "  chain input {\n"
            "    type filter hook input priority 0; policy accept;\n"
            '    iifname != "lo" counter\n'
            f'    iifname != "lo" numgen random mod 100 < {percent} counter drop\n'
            "  }\n"
            "}\n"
        )
        host.run("nft", "-f", "-", input=ruleset)
        self._loss.add(host.name)

    def loss_counters(self, host: Host) -> tuple[int, int]:
        """(packets received on network interfaces, packets of them dropped) since `set_loss`."""
        if host.name not in self._loss:
            return (0, 0)
        listing = json.loads(host.run("nft", "-j", "list", "table", "inet", LOSS_TABLE).stdout)
        counts = []
        for item in listing.get("nftables", []):
            for expression in item.get("rule", {}).get("expr", []):
                if "counter" in expression:
                    counts.append(int(expression["counter"]["packets"]))
        if len(counts) != 2:
            raise LabError(f"unexpected loss table in {host.netns}: {listing}")
        return counts[0], counts[1]

    def serial_pair(self, a: Host, b: Host) -> tuple[str, str]:
        """A serial cable between `a` and `b`; the device paths `a` and `b` should open."""
        base = self.workdir / f"{self.prefix}tty-{a.name}-{b.name}"
        line = SerialLine(a, b, Path(f"{base}.{a.name}"), Path(f"{base}.{b.name}"))
        self.serial_lines.append(line)
        self._start_socat(line)
        return str(line.path_a), str(line.path_b)

    def _serial_line(self, ends: tuple[Host | str, ...]) -> SerialLine:
        for line in self.serial_lines:
            names = {line.a.name, line.b.name, str(line.path_a), str(line.path_b)}
            if all((end.name if isinstance(end, Host) else str(end)) in names for end in ends):
                return line
        raise ValueError(f"no serial line between {ends}")

    def _start_socat(self, line: SerialLine) -> None:
        for path in (line.path_a, line.path_b):
            path.unlink(missing_ok=True)
        line.proc = proc = self.spawn(
            None,
            ["socat", f"pty,raw,echo=0,link={line.path_a}", f"pty,raw,echo=0,link={line.path_b}"],
            stderr=self.workdir / f"{line.path_a.name}.socat.err",
        )
        deadline = time.monotonic() + 5.0
        while not (line.path_a.exists() and line.path_b.exists()):
            if proc.poll() is not None or time.monotonic() > deadline:
                stop_process(proc)
                raise LabError(f"socat did not make {line.path_a} and {line.path_b}")
            time.sleep(0.02)

    def cut_serial(self, *ends: Host | str) -> float:
        """Cut a serial cable (kill its socat), named by its hosts or a path; the time of the cut."""
        line = self._serial_line(ends)
        when = time.time()
        if line.proc is not None:
            stop_process(line.proc)
            line.proc = None
        for path in (line.path_a, line.path_b):
            path.unlink(missing_ok=True)
        return when

    def heal_serial(self, *ends: Host | str) -> float:
        """Reconnect a cut serial cable (a new socat, same link paths); the time just before."""
        line = self._serial_line(ends)
        when = time.time()
        if line.proc is None or line.proc.poll() is not None:
            self._start_socat(line)
        return when

    # Processes

    def spawn(
        self,
        host: Host | None,
        argv: Sequence[str],
        *,
        stdout: Path | None = None,
        stderr: Path | None = None,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> subprocess.Popen[Any]:
        """Start a background process in `host`'s namespace (or outside any, for None).

        Its output is appended to the given files (one file if both are the same, else
        nowhere). The lab stops and reaps it in close().
        """
        if self._closed:
            raise LabError("lab is closed")
        command = list(argv) if host is None else ["ip", "netns", "exec", host.netns, *argv]
        handles = []
        try:
            out: Any = subprocess.DEVNULL
            err: Any = subprocess.DEVNULL
            if stdout is not None:
                out = open(stdout, "ab")  # noqa: SIM115 - closed below, the child keeps its copy
                handles.append(out)
            if stderr is not None and stdout is not None and Path(stderr) == Path(stdout):
                err = subprocess.STDOUT
            elif stderr is not None:
                err = open(stderr, "ab")  # noqa: SIM115
                handles.append(err)
            proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env=env,
                cwd=cwd,
                start_new_session=True,
            )
        finally:
            for handle in handles:
                handle.close()
        self._processes.append(proc)
        return proc

    def host_dir(self, host: Host) -> Path:
        """The working directory of `host` (config, state, logs)."""
        path = self.workdir / host.name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def start_hbtwist(
        self,
        host: Host,
        ha_cf: str,
        authkeys: str,
        haresources: str = "",
        *,
        extra_args: Sequence[str] = (),
    ) -> Node:
        """Write the configuration of `host` and start an hbtwist daemon in its namespace."""
        home = self.host_dir(host)
        config_dir = home / "ha.d"
        config_dir.mkdir(exist_ok=True)
        (config_dir / "ha.cf").write_text(ha_cf)
        keys = config_dir / "authkeys"
        keys.write_text(authkeys)
        keys.chmod(0o600)
        (config_dir / "haresources").write_text(haresources)
        state_dir = home / "state"
        state_dir.mkdir(mode=0o700, exist_ok=True)
        return self._launch(host, config_dir, state_dir, extra_args)

    def _launch(self, host: Host, config_dir: Path, state_dir: Path, extra_args: Sequence[str]) -> Node:
        home = self.host_dir(host)
        number = sum(1 for node in self.nodes if node.host is host) + 1
        log_path = home / f"hbtwist-{number}.json"
        err_path = home / f"hbtwist-{number}.err"
        for path in (log_path, err_path):  # a work directory used before
            path.unlink(missing_ok=True)
        argv = [
            *_twistd_command(),
            "-n",
            "--pidfile=",
            "--logger",
            "hbtwist.control.jsonlog.observer",
            "heartbeat",
            "--config-dir",
            str(config_dir),
            "--state-dir",
            str(state_dir),
            "--node-name",
            host.name,
            "--control-socket",
            str(home / "control.sock"),
            *extra_args,
        ]
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        started_at = time.time()
        proc = self.spawn(host, argv, stdout=log_path, stderr=err_path, env=env, cwd=home)
        node = Node(self, host, proc, log_path, err_path, config_dir, state_dir, started_at, extra_args)
        self.nodes.append(node)
        return node

    def restart(self, node: Node) -> Node:
        """Start `node`'s daemon again (stopping it first if it runs): same host, configuration
        and state directory, hence a new generation. The new process logs to a new file."""
        if node.running:
            node.stop()
        else:
            node.wait()
        return self._launch(node.host, node.config_dir, node.state_dir, node.extra_args)

    # Tear-down

    def close(self) -> None:
        """Stop and reap every process, remove the loss tables and every namespace. Idempotent."""
        if self._closed:
            return
        self._closed = True
        stop_processes(reversed(self._processes))
        for line in self.serial_lines:
            line.proc = None
            for path in (line.path_a, line.path_b):
                try:
                    path.unlink(missing_ok=True)
                except OSError:
                    pass
        for name in sorted(self._loss):
            host = self.hosts[name]
            host.run("nft", "delete", "table", "inet", LOSS_TABLE, check=False)
        self._loss.clear()
        for netns in reversed(self._namespaces):
            # Anything still inside (a child of a child) would keep the namespace's devices alive.
            _kill_pids(_netns_pids(netns))
            run(["ip", "netns", "del", netns], check=False)
        self._namespaces.clear()
