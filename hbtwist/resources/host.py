"""What the native IP agent asks of the host, and the address flags it passes.

Free of pyroute2: the daemon loads netlink (`hbtwist.resources.netlink`) only when a native IP
agent opens it.
"""

from __future__ import annotations

from typing import Protocol

from hbtwist.resources.findif import Address, HostTables, Link, Placement

IFA_F_NODAD = 0x02
IFA_F_DADFAILED = 0x08
IFA_F_TENTATIVE = 0x40
IFA_F_NOPREFIXROUTE = 0x200


class Host(Protocol):
    """What the native IP agent asks of the host."""

    def tables(self, family: int, routes: bool = True) -> HostTables:
        """Every link, and the addresses and (unless `routes` is false) routes of `family`."""

    def add(self, ip: str, placement: Placement, flags: int) -> None:
        """Add `ip` as `placement` says, with `IFA_F_*` flags."""

    def delete(self, address: Address) -> None:
        """Delete one address."""

    def set_up(self, link: Link) -> None:
        """Bring a link up."""

    def changed(self) -> bool:
        """Whether a link, address or route may have changed since the last call (the first
        call: True)."""
