"""Loading a configuration directory (ha.cf, authkeys, haresources, hbtwist.cf) into a
`ClusterConfig`."""

from __future__ import annotations

import os
from collections.abc import Mapping

from hbtwist.config.authkeys import parse_authkeys
from hbtwist.config.hacf import parse_hacf
from hbtwist.config.haresources import parse_haresources
from hbtwist.config.media import MEDIUM_PARSERS, MediumParser
from hbtwist.config.model import ClusterConfig, ResourceGroup, ResourceSettings
from hbtwist.config.problems import ConfigError, FileLog, ProblemLog
from hbtwist.config.settings import parse_settings
from hbtwist.config.source import read_source
from hbtwist.config.values import WHITESPACE, ascii_lower

HACF = "ha.cf"
AUTHKEYS = "authkeys"
HARESOURCES = "haresources"
HBTWISTCF = "hbtwist.cf"
NODEINFO = "nodeinfo"


def load_config(
    config_dir: str | os.PathLike[str],
    *,
    local_node: str | None = None,
    media: Mapping[str, MediumParser] = MEDIUM_PARSERS,
) -> ClusterConfig:
    """Read and validate the files of `config_dir`; ConfigError lists every problem found.

    `local_node` defaults to the first line of `<config_dir>/nodeinfo`, else `uname -n`
    (lower-cased either way). haresources may be absent (no resource groups), and so may
    hbtwist.cf (the default resource policy). Nothing is checked
    against this host here (see `hbtwist.media.hostcheck`). `media` maps medium directives to
    their parsers (the built-ins unless plugins are given).
    """
    directory = os.fspath(config_dir)
    log = ProblemLog()
    node = _local_node(directory, local_node, log)

    hacf_log = log.for_file(os.path.join(directory, HACF))
    hacf_source = read_source(hacf_log.path, hacf_log)
    hacf = parse_hacf(hacf_source, hacf_log, node, media) if hacf_source is not None else None

    keys_log = log.for_file(os.path.join(directory, AUTHKEYS))
    keys_source = read_source(keys_log.path, keys_log)
    keyring = parse_authkeys(keys_source, keys_log) if keys_source is not None else None

    resources_log = log.for_file(os.path.join(directory, HARESOURCES))
    resources_source = read_source(resources_log.path, resources_log, required=False)
    resources: tuple[ResourceGroup, ...] = ()
    if resources_source is not None:
        nodes = hacf.nodes if hacf is not None and "node" not in hacf.failed else None
        resources = parse_haresources(resources_source, resources_log, nodes)
    settings = _settings(directory, log, resources_log, resources)

    errors, warnings = log.in_order(log.errors), log.in_order(log.warnings)
    if errors or hacf is None or keyring is None or node is None:
        raise ConfigError(errors, warnings)
    return ClusterConfig(directory, node, hacf, keyring, resources, warnings, settings)


def _settings(
    directory: str, log: ProblemLog, resources_log: FileLog, groups: tuple[ResourceGroup, ...]
) -> ResourceSettings:
    """hbtwist.cf's settings, else the defaults; its resource names are checked against
    haresources only when haresources was read without an error."""
    settings_log = log.for_file(os.path.join(directory, HBTWISTCF))
    source = read_source(settings_log.path, settings_log, required=False)
    if source is None:
        return ResourceSettings()
    intact = all(problem.path != resources_log.path for problem in log.errors)
    resources = [resource for group in groups for resource in group.resources] if intact else None
    return parse_settings(source, settings_log, resources)


def _local_node(directory: str, given: str | None, log: ProblemLog) -> str | None:
    """The local node's name; None when nodeinfo is there but names no node (logged)."""
    if given is not None:
        return ascii_lower(given)
    nodeinfo_log = log.for_file(os.path.join(directory, NODEINFO))
    source = read_source(nodeinfo_log.path, nodeinfo_log, required=False)
    if source is None:
        return ascii_lower(os.uname().nodename)
    name = source.lines[0].strip(WHITESPACE) if source.lines else ""
    if not name:
        nodeinfo_log.error(1, "the first line must be this node's name")
        return None
    return ascii_lower(name)
