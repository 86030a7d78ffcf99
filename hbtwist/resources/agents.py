"""Which agent runs a resource: the native one if offered and allowed, else its OCF agent or script."""

from __future__ import annotations

from collections.abc import Callable

from hbtwist.config.model import Resource
from hbtwist.resources.interface import AgentContext, IResourceAgent
from hbtwist.resources.ocf import OcfAgent
from hbtwist.resources.scripts import ScriptAgent

OCF_SCRIPT = "OCF"

NativeFactory = Callable[[Resource, AgentContext], IResourceAgent | None]
"""Serves a resource in process, or answers None when it cannot (then the agent runs it)."""


def agent_for(
    resource: Resource, context: AgentContext, native: NativeFactory | None = None
) -> IResourceAgent:
    """The agent of `resource`: `native`'s when the policy's `native_ip` allows and it has one,
    `OcfAgent` for `OCF::<type>::<instance>`, else `ScriptAgent`."""
    if native is not None and context.settings.policy(resource.text).native_ip:
        agent = native(resource, context)
        if agent is not None:
            return agent
    if resource.script == OCF_SCRIPT:
        return OcfAgent(resource, context)
    return ScriptAgent(resource, context)
