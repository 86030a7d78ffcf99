"""A real Linux-HA Heartbeat 3.0.6 daemon (Debian package `heartbeat`) on a lab host.

Heartbeat takes its node name from `uname -n` and keeps its files at fixed paths (`/etc/ha.d`,
`/var/lib/heartbeat`, `/run/heartbeat`, `/run/heartbeat.pid`), so each daemon runs in namespaces
of its own, inside the lab host's network namespace:

* a UTS namespace whose hostname is the node name;
* a private mount namespace in which `/etc/ha.d`, `/var/lib/heartbeat` and `/run` are bind mounts
  of per-node directories under the lab's host directory (`<host>/heartbeat/{ha.d,lib,run}`);
* a PID namespace whose init (`pidnamespace.INIT`, a few lines of Python) starts the daemon and
  reaps every process left to it. Heartbeat forks a FIFO reader plus a reader and a writer per
  medium; when the daemon ends, however it ends, the init exits, and the kernel kills and reaps
  whatever is left in the namespace. Nothing outlives `stop()` and nothing is left as a zombie.

After a healed partition (or a reload once ha.cf changed) Heartbeat restarts itself: the master
control process gives up its resources, stops its children and execs `heartbeat` without `-f`,
which daemonizes: it forks a new master control process and exits 0. On a real machine init
adopts the new master; here the namespace's init does and follows it, so the daemon runs on
(`pid` is always the init's child running Heartbeat). The init ends when a master exits with
another status, or exits 0 leaving no successor.

The daemon starts in the foreground (`-f`) and logs to `<host>/heartbeat/ha-log` (a `logfile`
line and `use_logd no` are put in front of the given ha.cf). `cl_status` runs "beside" it through
`nsenter` into its mount, UTS, network and PID namespaces: Heartbeat refuses an API client whose
pid it cannot see (`api_add_client: bad pid`), hence the PID namespace too.

Every wait is bounded. `close()` stops the daemon and removes the FIFO and sockets it left in its
directories, so that the lab's work directory can be copied after the test.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.integration import pidnamespace
from tests.integration.lab import Host, Lab, LabError

HEARTBEAT = Path("/usr/libexec/heartbeat/heartbeat")
HB_STANDBY = Path("/usr/share/heartbeat/hb_standby")
HB_TAKEOVER = Path("/usr/share/heartbeat/hb_takeover")
SYSTEM_CONFIG_DIR = Path("/etc/ha.d")
SYSTEM_STATE_DIR = Path("/var/lib/heartbeat")
CLUSTER_USER = "hacluster"
CLUSTER_GROUP = "haclient"
RUN_SUBDIRS = ("ccm", "crm", "dopd")
"""What the package creates under /run/heartbeat (owned by hacluster:haclient, mode 0750)."""
REQUIRED_TOOLS = ("unshare", "nsenter", "cl_status", "hostname", "mount", "sh")

START_TIMEOUT = 15.0
STOP_TIMEOUT = 15.0
"""A clean shutdown takes ~2-4 s: resources are given up, then the children are stopped."""
KILL_TIMEOUT = 5.0
CL_STATUS_TIMEOUT = 10.0
"""cl_status ends itself after 5 s (exit 12); this only bounds a stuck nsenter."""
POLL_INTERVAL = 0.2

STARTED_LINE = "Local status now set to: 'up'"


def unavailable() -> str | None:
    """Why a real Heartbeat daemon cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (namespaces, bind mounts)"
    if not os.access(HEARTBEAT, os.X_OK):
        return f"needs the Debian package heartbeat ({HEARTBEAT})"
    missing = [tool for tool in REQUIRED_TOOLS if shutil.which(tool) is None]
    if missing:
        return f"needs {', '.join(missing)}"
    try:
        pwd.getpwnam(CLUSTER_USER)
        grp.getgrnam(CLUSTER_GROUP)
    except KeyError:
        return f"needs the {CLUSTER_USER} user and {CLUSTER_GROUP} group (package heartbeat)"
    return None


def require_real_heartbeat() -> None:
    """Skip the test when a real Heartbeat cannot run; under CI (`CI` set), fail instead."""
    reason = unavailable()
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"Heartbeat interoperability tests cannot run in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def _mirror_dirs(source: Path, target: Path) -> None:
    """Recreate the directory tree of `source` at `target` with the same owners and modes
    (directories only: the package ships /var/lib/heartbeat as empty directories)."""
    for directory, subdirs, _files in os.walk(source):
        relative = Path(directory).relative_to(source)
        made = target / relative
        made.mkdir(parents=True, exist_ok=True)
        info = os.stat(directory)
        os.chown(made, info.st_uid, info.st_gid)
        os.chmod(made, stat.S_IMODE(info.st_mode))
        subdirs.sort()


class RealHeartbeat:
    """One real Heartbeat 3.0.6 daemon on a lab host; its node name is the host's name."""

    def __init__(self, lab: Lab, host: Host, ha_cf: str, authkeys: str, haresources: str = "") -> None:
        self.lab = lab
        self.host = host
        self.name = host.name
        self.home = lab.host_dir(host) / "heartbeat"
        self.config_dir = self.home / "ha.d"
        self.state_dir = self.home / "lib"
        self.run_dir = self.home / "run"
        self.log_path = self.home / "ha-log"
        self.output_path = self.home / "output"
        self.proc: subprocess.Popen[Any] | None = None
        """The `unshare` process; its child is the namespace's init, whose child is the daemon."""
        self.init_pid: int | None = None
        """The namespace's init (host pid): nsenter through it."""
        self.pid_namespace: str | None = None
        self.returncode: int | None = None
        self.started_at: float | None = None
        """time.time() just before the daemon was started."""
        self._prepare(ha_cf, authkeys, haresources)

    def __repr__(self) -> str:
        return f"<RealHeartbeat {self.name} pid {self.pid} log {self.log_path}>"

    def __enter__(self) -> RealHeartbeat:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # Files

    def _prepare(self, ha_cf: str, authkeys: str, haresources: str) -> None:
        if self.home.exists():
            raise LabError(f"{self.home} exists: one real Heartbeat per host")
        self.home.mkdir(parents=True)
        # The package's own /etc/ha.d (harc, rc.d/, resource.d/, shellfuncs) plus our files.
        shutil.copytree(SYSTEM_CONFIG_DIR, self.config_dir, symlinks=True)
        header = (
            "# added by tests/integration/realheartbeat.py: log into the lab, no logging daemon\n"
            f"logfile {self.log_path}\n"
            "use_logd no\n"
        )
        (self.config_dir / "ha.cf").write_text(header + ha_cf)
        keys = self.config_dir / "authkeys"
        keys.write_text(authkeys)
        keys.chmod(0o600)
        (self.config_dir / "haresources").write_text(haresources)
        # /var/lib/heartbeat with cores/, and the run directories the daemon expects.
        _mirror_dirs(SYSTEM_STATE_DIR, self.state_dir)
        (self.state_dir / "cores").mkdir(exist_ok=True)
        uid, gid = pwd.getpwnam(CLUSTER_USER).pw_uid, grp.getgrnam(CLUSTER_GROUP).gr_gid
        self.run_dir.mkdir(mode=0o755)
        self.run_dir.chmod(0o755)
        lock = self.run_dir / "lock"
        lock.mkdir()
        lock.chmod(0o1777)
        for directory in (
            self.run_dir / "heartbeat",
            *(self.run_dir / "heartbeat" / sub for sub in RUN_SUBDIRS),
        ):
            directory.mkdir()
            os.chown(directory, uid, gid)
            directory.chmod(0o750)
        self.log_path.touch()

    def _remove_special_files(self) -> None:
        """Remove the FIFO and sockets the daemon left (copying them would block or fail)."""
        for directory, _subdirs, files in os.walk(self.home):
            for name in files:
                path = Path(directory) / name
                try:
                    mode = path.lstat().st_mode
                except OSError:
                    continue
                if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode) or stat.S_ISDIR(mode)):
                    path.unlink(missing_ok=True)

    # Life cycle

    def start(self, timeout: float = START_TIMEOUT) -> RealHeartbeat:
        """Start the daemon; return once it has opened its media and set itself `up`."""
        if self.proc is not None:
            raise LabError(f"{self.name}: already started")
        argv = [
            "unshare", "--mount", "--uts", "--pid", "--fork", "--kill-child", "--mount-proc",
            "--propagation", "private",
            "sh", "-c", pidnamespace.LAUNCH, "realheartbeat",
            self.name, str(self.config_dir), str(self.state_dir), str(self.run_dir),
            sys.executable, "-I", "-c", pidnamespace.INIT, str(HEARTBEAT), "-f",
        ]  # fmt: skip
        mark = self.log_mark()
        self.started_at = time.time()
        self.proc = self.lab.spawn(self.host, argv, stdout=self.output_path, stderr=self.output_path)
        try:
            self._find_processes(timeout)
            self.wait_for_log(STARTED_LINE, timeout, since=mark)
        except BaseException:
            self.kill()
            raise
        return self

    def _find_processes(self, timeout: float) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise LabError(f"{self.name}: Heartbeat exited while starting\n{self.tail()}")
            if self.init_pid is None:
                children = pidnamespace.children(self.proc.pid)
                if children:
                    self.init_pid = children[0]
                    self.pid_namespace = pidnamespace.pid_namespace(self.init_pid)
            if self.pid is not None:
                return
            if time.monotonic() >= deadline:
                raise LabError(f"{self.name}: no Heartbeat process within {timeout} s\n{self.tail()}")
            time.sleep(0.02)

    @property
    def pid(self) -> int | None:
        """The master control process (host pid), the init's child that runs the daemon: signal
        it. It changes when Heartbeat restarts itself; None while nothing runs it."""
        if self.init_pid is None:
            return None
        return next(
            (
                pid
                for pid in pidnamespace.children(self.init_pid)
                if pidnamespace.exe(pid) == str(HEARTBEAT)
            ),
            None,
        )

    @property
    def running(self) -> bool:
        """Whether the daemon (its namespace) still runs."""
        return self.proc is not None and self.proc.poll() is None

    def processes(self) -> list[int]:
        """Host pids of every process in the daemon's PID namespace (init shell included)."""
        if self.pid_namespace is None:
            return []
        return [
            int(entry)
            for entry in os.listdir("/proc")
            if entry.isdigit() and pidnamespace.pid_namespace(int(entry)) == self.pid_namespace
        ]

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM (Heartbeat's clean shutdown), wait; SIGKILL if it does not end in `timeout`.

        Everything in the namespace is gone and reaped on return. The daemon's exit status
        (128+N if it was killed by signal N), or None if it was never started.
        """
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            pid = self.pid
            if pid is None:  # it never got as far as the daemon
                return self.kill()
            pidnamespace.send_signal(pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                return self.kill()
        self.returncode = self.proc.returncode
        return self.returncode

    def kill(self) -> int | None:
        """SIGKILL the daemon (a crash); everything in its namespace dies and is reaped with it.

        The exit status (137 when the SIGKILL ended it), or None if it was never started.
        """
        if self.proc is None:
            return None
        # The daemon first: the init then exits with 137, and when a namespace's init
        # exits the kernel kills and reaps all that is left in it (the daemon's children).
        # Then the init itself, then unshare (--kill-child), should anything linger.
        for pid in (self.pid, self.init_pid):
            if self.proc.poll() is not None:
                break
            pidnamespace.send_signal(pid, signal.SIGKILL)
            try:
                self.proc.wait(timeout=KILL_TIMEOUT)
            except subprocess.TimeoutExpired:
                continue
        if self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=KILL_TIMEOUT)
            except subprocess.TimeoutExpired as error:
                raise LabError(f"{self.name}: Heartbeat's namespace survives SIGKILL") from error
        self.returncode = self.proc.returncode
        return self.returncode

    def restart(self, timeout: float = START_TIMEOUT) -> RealHeartbeat:
        """Start the daemon again once it has stopped or been killed: the same files (its
        state directory keeps its generation, its log is appended to), new namespaces.
        Returns once it is `up` again."""
        if self.running:
            raise LabError(f"{self.name}: Heartbeat is still running")
        self._remove_special_files()
        # A killed daemon leaves its pid file, and in a new PID namespace that pid may be live.
        (self.run_dir / "heartbeat.pid").unlink(missing_ok=True)
        self.proc = None
        self.init_pid = self.returncode = None
        self.pid_namespace = None
        return self.start(timeout)

    def close(self) -> None:
        """Stop the daemon (if running) and tidy its directories. Safe to call more than once."""
        try:
            self.stop()
        finally:
            self._remove_special_files()

    # cl_status

    def beside(self, *argv: str, timeout: float = CL_STATUS_TIMEOUT) -> tuple[int, str]:
        """Run `argv` beside the daemon, in its mount, UTS, network and PID namespaces (where
        its FIFO, API socket and /etc/ha.d are); (exit status, standard output)."""
        if self.init_pid is None or not self.running:
            raise LabError(f"{self.name}: Heartbeat is not running\n{self.tail()}")
        command = ["nsenter", "-t", str(self.init_pid), "-m", "-u", "-n", "-p", *argv]
        try:
            result = subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=timeout,
                stdin=subprocess.DEVNULL,
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            raise LabError(f"{self.name}: {' '.join(argv)} gave no answer within {timeout} s") from error
        return result.returncode, result.stdout

    def cl_status(self, *args: str, timeout: float = CL_STATUS_TIMEOUT) -> tuple[int, str]:
        """Run `cl_status ARGS` beside the daemon; (exit status, standard output)."""
        return self.beside("cl_status", *args, timeout=timeout)

    def hb_standby(self, which: str = "all") -> int:
        """Run Heartbeat's `hb_standby WHICH` beside the daemon (it writes `ask_resources
        info=me` into the daemon's FIFO and returns at once); its exit status."""
        code, _out = self.beside(str(HB_STANDBY), which)
        return code

    def hb_takeover(self, which: str = "all") -> int:
        """Run Heartbeat's `hb_takeover WHICH` beside the daemon (it writes `hb_takeover` into
        the daemon's FIFO and returns at once); its exit status."""
        code, _out = self.beside(str(HB_TAKEOVER), which)
        return code

    def node_status(self, node: str) -> str:
        """`cl_status nodestatus NODE`: active, up, dead, init, ... ('' if it cannot tell)."""
        _code, out = self.cl_status("nodestatus", node)
        return out.strip()

    def link_status(self, node: str, link: str) -> str:
        """`cl_status hblinkstatus NODE LINK`: up or dead ('' if it cannot tell)."""
        _code, out = self.cl_status("hblinkstatus", node, link)
        return out.strip()

    def wait_until(self, check: Callable[[], bool], timeout: float, what: str) -> float:
        """Poll `check` until it holds; the time.time() at which it did. LabError (with the log
        tail) after `timeout` seconds or as soon as the daemon exits."""
        deadline = time.monotonic() + timeout
        while True:
            if check():
                return time.time()
            if not self.running:
                raise LabError(f"{self.name}: Heartbeat exited while waiting for {what}\n{self.tail()}")
            if time.monotonic() >= deadline:
                raise LabError(f"{self.name}: {what} not seen within {timeout} s\n{self.tail()}")
            time.sleep(POLL_INTERVAL)

    def wait_node_status(self, node: str, status: str, timeout: float = 10.0) -> float:
        """Wait until `cl_status nodestatus NODE` prints `status`; when it did."""
        return self.wait_until(
            lambda: self.node_status(node) == status, timeout, f"node {node} {status}"
        )

    def wait_link_status(self, node: str, link: str, status: str, timeout: float = 10.0) -> float:
        """Wait until `cl_status hblinkstatus NODE LINK` prints `status`; when it did."""
        return self.wait_until(
            lambda: self.link_status(node, link) == status, timeout, f"link {node}:{link} {status}"
        )

    # The log

    def log_text(self) -> str:
        """Everything the daemon has logged so far (its logfile)."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_mark(self) -> int:
        """A position in the log: pass it as `since` to look only at what comes after."""
        return len(self.log_text())

    def log_lines(self, text: str = "", since: int = 0) -> list[str]:
        """The log lines (after `since`) that contain `text`."""
        return [line for line in self.log_text()[since:].splitlines() if text in line]

    def wait_for_log(self, text: str, timeout: float = 10.0, since: int = 0) -> str:
        """Wait until a log line (after `since`) contains `text`; that line."""
        deadline = time.monotonic() + timeout
        while True:
            lines = self.log_lines(text, since)
            if lines:
                return lines[0]
            if self.proc is not None and self.proc.poll() is not None:
                raise LabError(f"{self.name}: Heartbeat exited before logging {text!r}\n{self.tail()}")
            if time.monotonic() >= deadline:
                raise LabError(f"{self.name}: {text!r} not logged within {timeout} s\n{self.tail()}")
            time.sleep(0.05)

    def tail(self, lines: int = 30) -> str:
        """The end of the daemon's log and output, for failure messages."""
        text = [f"--- real Heartbeat {self.name} (pid {self.pid}, log {self.log_path}) ---"]
        text += self.log_text().splitlines()[-lines:]
        try:
            output = self.output_path.read_text(errors="replace").splitlines()[-lines:]
        except FileNotFoundError:
            output = []
        if output:
            text.append(f"--- {self.name} standard output and error ---")
            text += output
        if self.proc is not None and self.proc.poll() is not None:
            text.append(f"--- {self.name} exited with status {self.proc.returncode} ---")
        return "\n".join(text)
