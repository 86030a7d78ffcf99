"""The daemon's service tree: one `MultiService` named "heartbeat" built from a loaded config."""

from __future__ import annotations

from twisted.application.service import MultiService

from hbtwist.config import ClusterConfig


class HeartbeatService(MultiService):
    """The root service of a running node; it holds the configuration it was built from."""

    def __init__(self, config: ClusterConfig, state_dir: str) -> None:
        super().__init__()
        self.config = config
        self.state_dir = state_dir


def build_service(config: ClusterConfig, state_dir: str) -> HeartbeatService:
    """The root service for `config`, keeping persistent state under `state_dir`."""
    service = HeartbeatService(config, state_dir)
    service.setName("heartbeat")
    return service
