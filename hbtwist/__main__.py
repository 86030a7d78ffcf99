"""`python -m hbtwist [twistd options] [heartbeat options]`: twistd running `heartbeat`.

The `heartbeat` service maker is given to twistd directly, so this works without Twisted's
plugin discovery. Arguments before the first heartbeat option go to twistd itself.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from types import ModuleType
from typing import TypeVar, cast

from twisted.application.service import IServiceMaker, ServiceMaker
from twisted.python import usage
from twisted.scripts.twistd import ServerOptions, runApp
from zope.interface import Interface

from hbtwist.daemon import tap

_T = TypeVar("_T", bound=Interface)

COMMAND = "heartbeat"
HEARTBEAT = ServiceMaker(
    "hbtwist heartbeat daemon",
    "hbtwist.daemon.tap",
    "A Heartbeat-3.0.6-compatible cluster heartbeat daemon.",
    COMMAND,
)


class HeartbeatServerOptions(ServerOptions):
    """twistd's own options, with `heartbeat` as the only sub-command."""

    synopsis = "Usage: python -m hbtwist [options]"

    @staticmethod
    def _getPlugins(interface: type[_T], package: ModuleType | None = None) -> Iterable[_T]:
        """The plugins twistd may use: `heartbeat` as its only service maker."""
        return [cast(_T, HEARTBEAT)] if interface is IServiceMaker else []


def _heartbeat_flags() -> frozenset[str]:
    return frozenset(f"--{name}" for name, *_ in tap.Options.optParameters)


def twistd_arguments(args: Sequence[str]) -> list[str]:
    """`args` with the `heartbeat` sub-command placed before the first heartbeat option."""
    flags = _heartbeat_flags()
    split = next(
        (i for i, arg in enumerate(args) if arg.split("=", 1)[0] in flags),
        len(args),
    )
    if COMMAND in args[:split]:
        return list(args)
    return [*args[:split], COMMAND, *args[split:]]


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the command line like `twistd` does and run the daemon (exit 1 on usage errors)."""
    options = HeartbeatServerOptions()
    try:
        options.parseOptions(twistd_arguments(sys.argv[1:] if argv is None else argv))
    except usage.UsageError as error:
        print(options)
        print(f"python -m hbtwist: {error}")
        raise SystemExit(1) from None
    runApp(options)


if __name__ == "__main__":
    main()
