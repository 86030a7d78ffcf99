"""The daemon's service tree: one `MultiService` named "heartbeat" built from a loaded config."""

from __future__ import annotations

import gc
import os
from typing import Any

from twisted.application.service import IService, MultiService, Service
from twisted.internet.defer import Deferred, maybeDeferred, succeed
from twisted.logger import Logger
from twisted.python.failure import Failure

from hbtwist.config import ClusterConfig
from hbtwist.control.logfiles import HeartbeatLogService
from hbtwist.control.service import control_services
from hbtwist.control.setuperrors import ManholeError
from hbtwist.core.stamp import Identity
from hbtwist.daemon.node import NodeService
from hbtwist.daemon.options import DaemonOptions
from hbtwist.daemon.state import next_generation, node_uuid
from hbtwist.media.hostcheck import check_host
from hbtwist.media.registry import medium_types

_log = Logger()


class HeartbeatService(MultiService):
    """The root service of a running node; it holds the configuration it was built from."""

    def __init__(self, config: ClusterConfig, state_dir: str) -> None:
        super().__init__()
        self.config = config
        self.state_dir = state_dir

    def startService(self) -> None:  # noqa: N802
        """Start the children, then move what start-up made (modules, configuration, services)
        to the garbage collector's permanent generation: a full collection then walks only what
        the node made since, and never stalls the heartbeats for the whole heap."""
        super().startService()
        gc.collect()
        gc.freeze()

    def stopService(self) -> Deferred[None]:  # noqa: N802
        """Stop the children last to first, each once the one after it has stopped: the node
        releases its resources before anything started earlier (the log files) stops, so the
        log keeps its last lines (`<node> Heartbeat shutdown complete.`)."""
        Service.stopService(self)
        stopped: Deferred[None] = succeed(None)
        for child in reversed(list(self)):
            stopped.addCallback(_stop_child, child)
        return stopped


def _stop_child(_: None, child: IService) -> Deferred[None]:
    """Stop one child; a failure is logged and not passed on, so the next child still stops."""
    stopped: Deferred[None] = maybeDeferred(child.stopService)
    return stopped.addErrback(_stop_failed, child)


def _stop_failed(failure: Failure, child: IService) -> None:
    _log.failure("Stopping service {service}", failure, service=child.name)


def build_service(
    config: ClusterConfig,
    state_dir: str,
    options: DaemonOptions | None = None,
    *,
    reactor: Any = None,
) -> HeartbeatService:
    """The root service for `config`, keeping persistent state under `state_dir`.

    Checks the media against this host first (ConfigError), then takes the next generation
    number (StateError if the state directory is unusable), then sets up the control socket,
    metrics and manhole that `options` ask for (ControlSetupError, ManholeError, ValueError).
    """
    if reactor is None:
        from twisted.internet import reactor
    options = options or DaemonOptions()
    kinds = medium_types()
    check_host(config.hacf.media, kinds)
    hacf = config.hacf
    identity = Identity(
        config.local_node,
        node_uuid(state_dir, config.local_node, hacf.uuidfrom),
        next_generation(state_dir, hacf.hbgenmethod),
    )
    root = HeartbeatService(config, state_dir)
    root.setName("heartbeat")
    logs = HeartbeatLogService(hacf.log, config.local_node)
    if logs.wanted:
        logs.setServiceParent(root)
    node = NodeService(config, identity, kinds, reactor, options.bind_address)
    node.setServiceParent(root)
    for child in _inspection_services(node, state_dir, options, reactor):
        child.setServiceParent(root)
    return root


def _inspection_services(
    node: NodeService, state_dir: str, options: DaemonOptions, reactor: Any
) -> list[IService]:
    """The control port, metrics endpoint and manhole; they start after the node. The metrics
    endpoint (twisted.web) and the manhole (twisted.conch) are loaded only when configured."""
    services = control_services(
        node,
        socket_path=options.control_socket,
        tls_endpoint=options.control_tls,
        tls_cert=options.tls_cert,
        tls_key=options.tls_key,
        tls_ca=options.tls_ca,
        tls_client_names=options.tls_client_names,
        reactor=reactor,
    )
    if options.metrics:
        from hbtwist.control.metrics import metrics_service

        services.append(metrics_service(node, options.metrics, reactor))
    if options.manhole:
        if not options.manhole_keys:
            raise ManholeError("--manhole needs --manhole-keys (an authorized_keys file)")
        from hbtwist.control.manhole import manhole_namespace, manhole_service

        host_key = os.path.join(state_dir, "manhole_host_key")
        namespace = manhole_namespace(node, core=node.core, config=node.config)
        services.append(
            manhole_service(namespace, options.manhole, options.manhole_keys, host_key, reactor)
        )
    return services
