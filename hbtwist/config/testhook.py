"""`OnlyForTesting`: Heartbeat's packet-loss test hook (spec 10), which the Cluster Test Suite's
`TestHeartbeatComm` writes to break and heal a node's communication.

The file lives in the configuration directory and holds `name=value` lines: `xmitloss=<p>` (the
chance that a datagram this node sends is not sent at all, only while `allownodes` is empty or
starts with `;`), `rcvloss=<p>` (the chance that a message from another node is dropped, unless
its sender is one of `allownodes`) and `allownodes=<n1;n2;...;>`. Anything else on a line is an
error naming the file and line; a file with an error is not used.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass

from hbtwist.config.problems import ProblemLog, shown
from hbtwist.config.source import read_source
from hbtwist.wire.names import fold_name

FILE_NAME = "OnlyForTesting"


@dataclass(frozen=True)
class LossHook:
    """The loss the test hook asks for."""

    xmitloss: float = 0.0
    rcvloss: float = 0.0
    allownodes: str = ""
    """As written: node names, each followed by `;`."""

    @property
    def allowed(self) -> frozenset[str]:
        """The nodes whose messages are never dropped on receipt."""
        return frozenset(fold_name(name) for name in self.allownodes.split(";") if name)

    def drops_sent(self, rng: random.Random) -> bool:
        """Whether one outgoing datagram is to be dropped."""
        if self.allownodes and not self.allownodes.startswith(";"):
            return False
        return self.xmitloss > 0 and rng.random() < self.xmitloss

    def drops_received(self, sender: str, rng: random.Random) -> bool:
        """Whether one message from node `sender` is to be dropped."""
        if fold_name(sender) in self.allowed:
            return False
        return self.rcvloss > 0 and rng.random() < self.rcvloss


def read_test_hook(config_dir: str) -> tuple[LossHook | None, list[str]]:
    """The test hook of `config_dir` (None when the file is absent or has an error) and the
    problems found, each as `FILE:LINE: problem`."""
    log = ProblemLog()
    path = os.path.join(config_dir, FILE_NAME)
    file_log = log.for_file(path)
    source = read_source(path, file_log, required=False)
    if source is None:
        return None, [str(problem) for problem in log.errors]
    values: dict[str, str] = {}
    for number, text in source.numbered():
        line = text.strip()
        if not line:
            continue
        name, sign, value = line.partition("=")
        name, value = name.strip(), value.strip()
        if not sign or name not in ("xmitloss", "rcvloss", "allownodes"):
            file_log.error(number, f"expected xmitloss=, rcvloss= or allownodes=, not {shown(line)}")
        elif name != "allownodes" and not _is_probability(value):
            file_log.error(number, f"{name}: {shown(value)} is not a probability from 0 to 1")
        else:
            values[name] = value
    if log.errors:
        return None, [str(problem) for problem in log.errors]
    hook = LossHook(
        xmitloss=float(values.get("xmitloss", 0)),
        rcvloss=float(values.get("rcvloss", 0)),
        allownodes=values.get("allownodes", ""),
    )
    return hook, []


def _is_probability(text: str) -> bool:
    try:
        value = float(text)
    except ValueError:
        return False
    return 0.0 <= value <= 1.0
