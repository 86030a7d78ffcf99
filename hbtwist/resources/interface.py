"""What a resource agent is to the rest of hbtwist: start, stop and status, each a Deferred."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from twisted.internet.defer import Deferred
from zope.interface import Attribute, Interface

from hbtwist.config.model import LogSettings, Resource, ResourceSettings


class Outcome(enum.StrEnum):
    """How one operation ended."""

    OK = "ok"
    """start/stop succeeded; status/monitor: the resource runs."""
    NOT_RUNNING = "not running"
    """status/monitor: the resource is cleanly stopped."""
    FAILED = "failed"
    TIMEOUT = "timeout"
    """The operation did not end within its timeout; its process group was killed."""


@dataclass(frozen=True)
class OperationResult:
    """The result of one operation on one resource."""

    operation: str
    """`start`, `stop`, `status` (scripts) or `monitor` (OCF agents, the native IP)."""
    outcome: Outcome
    duration_ms: int
    detail: str = ""
    """The last line the agent printed, or why the operation failed."""
    exit_code: int | None = None

    @property
    def ok(self) -> bool:
        """Whether a start or stop succeeded, or a status check found the resource running."""
        return self.outcome is Outcome.OK


@dataclass(frozen=True)
class AgentContext:
    """Where agents are found and how they are run on this host."""

    config_dir: str
    """The configuration directory: `resource.d/` and `conf/OCF/` are looked up here first."""
    reactor: Any
    settings: ResourceSettings = ResourceSettings()
    heartbeat_dir: str = "/etc/ha.d"
    """Heartbeat's own directory, searched after `config_dir` for `resource.d/` scripts."""
    init_dir: str = "/etc/init.d"
    ocf_root: str = "/usr/lib/ocf"
    log: LogSettings = LogSettings()
    """ha.cf's logging, handed to scripts as `HA_LOGFACILITY`, `HA_LOGFILE`, `HA_DEBUGLOG`."""


class IResourceAgent(Interface):
    """One haresources resource on this host. Operations never raise: failures are results."""

    resource: Resource = Attribute("The resource as configured.")
    path: str = Attribute("`native`, or the script or agent that runs the operations.")

    def start() -> Deferred[OperationResult]:
        """Start the resource."""

    def stop() -> Deferred[OperationResult]:
        """Stop the resource."""

    def status() -> Deferred[OperationResult]:
        """Whether the resource runs (`status` for scripts, `monitor` for OCF agents)."""
