"""`python -m hbtwist [twistd options] [heartbeat options]`: twistd running `heartbeat`.

The `heartbeat` service maker is given to twistd directly, so this works without Twisted's
plugin discovery. Arguments before the first heartbeat option go to twistd itself.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from twisted.application.service import ServiceMaker
from twisted.python import usage
from twisted.scripts.twistd import ServerOptions, runApp

from hbtwist.daemon import tap

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

    @property
    def subCommands(self) -> list[tuple[str, None, Any, str]]:  # noqa: N802
        """`heartbeat` only, with its service maker where twistd looks for it (`loadedPlugins`)."""
        self.loadedPlugins = {COMMAND: HEARTBEAT}
        return [(COMMAND, None, tap.Options, HEARTBEAT.description)]


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
