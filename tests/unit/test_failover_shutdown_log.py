"""A stopping node's last lines (resources given up, `Heartbeat shutdown complete.`) reach ha.cf's
log file: the root service stops its children one after another, the log files last."""

from __future__ import annotations

from pathlib import Path

from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.logger import Logger

from hbtwist.config.model import LogSettings
from hbtwist.control.logfiles import HeartbeatLogService
from hbtwist.daemon import startup
from hbtwist.daemon.services import HeartbeatService

_log = Logger(namespace="hbtwist.test")


class SlowStop(Service):
    """Stands for the node service: its stop ends when `finish` is called, with a last log line."""

    def __init__(self, name: str, order: list[str]) -> None:
        self.name = name
        self.order = order
        self._stopped: Deferred[None] | None = None

    def stopService(self) -> Deferred[None]:  # noqa: N802
        super().stopService()
        self.order.append(f"{self.name} stopping")
        self._stopped = Deferred()
        return self._stopped

    def finish(self) -> None:
        _log.info("{node} Heartbeat shutdown complete.", node="alpha")
        self.order.append(f"{self.name} stopped")
        assert self._stopped is not None
        self._stopped.callback(None)


class FailingStop(Service):
    """A child whose stop raises."""

    def stopService(self) -> None:  # noqa: N802
        super().stopService()
        raise RuntimeError("cannot stop")


class Recording(Service):
    """A child that notes when it is stopped."""

    def __init__(self, name: str, order: list[str]) -> None:
        self.name = name
        self.order = order

    def stopService(self) -> None:  # noqa: N802
        super().stopService()
        self.order.append(f"{self.name} stopped")


def _root(config_dir: Path, tmp_path: Path, local_node: str) -> HeartbeatService:
    config = startup.load_or_exit(str(config_dir), local_node)
    return HeartbeatService(config, str(tmp_path / "state"))


def test_children_stop_last_first_each_after_the_next(
    config_dir: Path, tmp_path: Path, local_node: str
) -> None:
    """A child started earlier is stopped only once every child started after it has stopped."""
    order: list[str] = []
    root = _root(config_dir, tmp_path, local_node)
    Recording("logs", order).setServiceParent(root)
    node = SlowStop("node", order)
    node.setServiceParent(root)
    Recording("control", order).setServiceParent(root)
    root.startService()
    done = root.stopService()
    assert order == ["control stopped", "node stopping"]
    node.finish()
    assert order == ["control stopped", "node stopping", "node stopped", "logs stopped"]
    assert not root.running
    results: list[object] = []
    done.addCallback(results.append)
    assert results == [None]


def test_shutdown_complete_reaches_the_log_file(
    config_dir: Path, tmp_path: Path, local_node: str
) -> None:
    """The line a node logs as its stop ends is in ha.cf's `logfile`."""
    logfile = tmp_path / "ha-log"
    order: list[str] = []
    root = _root(config_dir, tmp_path, local_node)
    HeartbeatLogService(LogSettings(logfile=str(logfile)), "alpha").setServiceParent(root)
    node = SlowStop("node", order)
    node.setServiceParent(root)
    root.startService()
    root.stopService()
    node.finish()
    assert "info: alpha Heartbeat shutdown complete." in logfile.read_text()


def test_a_failing_child_does_not_keep_the_others_running(
    config_dir: Path, tmp_path: Path, local_node: str
) -> None:
    """A child whose stop fails is logged; the children before it are still stopped."""
    order: list[str] = []
    root = _root(config_dir, tmp_path, local_node)
    Recording("logs", order).setServiceParent(root)
    FailingStop().setServiceParent(root)
    root.startService()
    root.stopService()
    assert order == ["logs stopped"]
