"""A short human summary of a loaded configuration, as `hbctl check` prints it."""

from __future__ import annotations

from hbtwist.config.model import ClusterConfig, ResourceSettings
from hbtwist.config.settings import describe


def summarize(config: ClusterConfig) -> str:
    """Several lines: node, nodes, media, timings, authentication, resource groups, the resource
    policy when hbtwist.cf is there, and how many warnings there are (`hbctl check` prints them
    on stderr)."""
    hacf = config.hacf
    key = config.keyring.sending_key
    lines = [
        f"local node: {config.local_node}",
        f"nodes: {' '.join(hacf.nodes)}",
        "media:",
        *(f"  {medium.describe()}" for medium in hacf.media),
        f"timings: keepalive {hacf.keepalive_ms} ms, warntime {hacf.warntime_ms} ms,"
        f" deadtime {hacf.deadtime_ms} ms, initdead {hacf.initdead_ms} ms",
        f"auto_failback: {hacf.auto_failback.value}",
        f"auth: {key.method.value} (key {key.index}; {len(config.keyring.keys)} key(s) accepted)",
    ]
    if config.resources:
        lines.append("resource groups:")
        lines.extend(
            f"  {group.preferred_node}: {' '.join(resource.text for resource in group.resources)}"
            for group in config.resources
        )
    else:
        lines.append("resource groups: none")
    lines.extend(_settings_lines(config.settings))
    lines.append(f"warnings: {len(config.warnings) or 'none'}")
    return "\n".join(lines)


def _settings_lines(settings: ResourceSettings) -> list[str]:
    """The policy hbtwist.cf sets, then each resource's own; nothing without the file."""
    if settings.source is None:
        return []
    return [
        f"resource policy ({settings.source}):",
        f"  default: {describe(settings.default)}",
        *(f"  {text}: {describe(policy, settings.default)}" for text, policy in settings.overrides),
    ]
