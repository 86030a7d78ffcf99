"""The daemon's service tree: one `MultiService` named "heartbeat" built from a loaded config."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from twisted.application.service import MultiService

from hbtwist.config import ClusterConfig, ConfigError, Problem
from hbtwist.core.stamp import Identity
from hbtwist.media.interface import IMediumType
from hbtwist.media.registry import medium_types
from hbtwist.media.sockets import MediumUnavailable
from hbtwist.node import NodeService
from hbtwist.state import next_generation, node_uuid


class HeartbeatService(MultiService):
    """The root service of a running node; it holds the configuration it was built from."""

    def __init__(self, config: ClusterConfig, state_dir: str) -> None:
        super().__init__()
        self.config = config
        self.state_dir = state_dir


def check_media(config: ClusterConfig, kinds: Mapping[str, IMediumType]) -> None:
    """Every configured medium has a plugin and can be carried by this host, else ConfigError."""
    problems = []
    for medium in config.hacf.media:
        path, line = medium.location
        kind = kinds.get(medium.kind)
        try:
            if kind is None:
                raise MediumUnavailable(f"no medium plugin provides {medium.kind!r}")
            kind.check_host(medium)
        except MediumUnavailable as error:
            problems.append(Problem(path, line or None, f"{medium.kind}: {error}"))
    if problems:
        raise ConfigError(tuple(problems), ())


def build_service(
    config: ClusterConfig,
    state_dir: str,
    *,
    bind_address: str | None = None,
    reactor: Any = None,
) -> HeartbeatService:
    """The root service for `config`, keeping persistent state under `state_dir`.

    Checks the media against this host first (ConfigError), then takes the next generation
    number (StateError if the state directory is unusable).
    """
    if reactor is None:
        from twisted.internet import reactor
    kinds = medium_types()
    check_media(config, kinds)
    hacf = config.hacf
    identity = Identity(
        config.local_node,
        node_uuid(state_dir, config.local_node, hacf.uuidfrom),
        next_generation(state_dir, hacf.hbgenmethod),
    )
    root = HeartbeatService(config, state_dir)
    root.setName("heartbeat")
    NodeService(config, identity, kinds, reactor, bind_address).setServiceParent(root)
    return root
