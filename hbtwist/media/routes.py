"""Which node each unicast link reaches, learned from where the nodes' statuses come from.

A `ucast` line names an address, not a node. Every node sends its status from its own
addresses, so the addresses statuses came from tell which node sits behind each unicast link.
A message that only one node reads (an acknowledgement) then skips the unicast links of the
other nodes; it still takes every link whose reach is unknown and every shared medium
(broadcast, multicast, serial). At 32 nodes an acknowledgement went out 32 times and was read
by every node twice; now it goes out twice.
"""

from __future__ import annotations

from collections.abc import Sequence

from hbtwist.media.interface import IMediumLink, IUnicastLink

ROUTES_LIMIT = 4096
"""Addresses remembered before the table starts again from empty (nodes have a few each)."""


class UnicastRoutes:
    """The nodes heard from each address, and the links a message for one node takes."""

    def __init__(self, links: Sequence[IMediumLink]) -> None:
        self._links = list(links)
        self._nodes: dict[str, set[str]] = {}
        self._chosen: dict[str, list[IMediumLink]] = {}

    def heard(self, node: str, source: object) -> None:
        """A current status of `node` came from `source` (an address tuple; anything else, such
        as a serial line's None, says nothing)."""
        if not isinstance(source, tuple) or not source or not isinstance(source[0], str):
            return
        nodes = self._nodes.get(source[0])
        if nodes is not None and node in nodes:
            return
        if nodes is None:
            if len(self._nodes) >= ROUTES_LIMIT:
                self._nodes.clear()
            nodes = self._nodes[source[0]] = set()
        nodes.add(node)
        self._chosen.clear()

    def links_to(self, node: str) -> list[IMediumLink]:
        """Every link but the unicast ones whose address only other nodes were heard from."""
        chosen = self._chosen.get(node)
        if chosen is None:
            chosen = self._chosen[node] = [link for link in self._links if self._may_reach(link, node)]
        return chosen

    def _may_reach(self, link: IMediumLink, node: str) -> bool:
        if not IUnicastLink.providedBy(link):
            return True
        heard = self._nodes.get(link.peer_host)
        return heard is None or node in heard
