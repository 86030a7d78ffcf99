"""The failover benchmark's setting (keepalive 10 ms, deadtime 60 ms, two media) under 30 %
random loss on both nodes, with the virtual IP held and a client probing it: nobody dies and the
address never moves (`soak.py`; `bench/loss.py` measures longer and at other rates)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.integration.failover import FAST, HbtwistPair, Setup, build
from tests.integration.lab import Lab
from tests.integration.soak import soak

LOSS_PERCENT = 30
SOAK_SECONDS = 60.0


@pytest.mark.timeout(SOAK_SECONDS + 120)
def test_thirty_percent_loss_never_moves_the_address(lab: Lab, report: Callable[[str], None]) -> None:
    """For a minute at 30 % loss on both nodes, node1 alone answers at the address: no node is
    declared dead, node2 starts nothing, and the client never hears two nodes."""
    scenario = build(lab)
    pair = HbtwistPair(scenario, FAST, setup=Setup(realtime=True))
    result = soak(scenario, "hbtwist", pair, LOSS_PERCENT, SOAK_SECONDS)
    report(result.line())
    assert result.problem is None, result.problem
    for node, share in result.dropped.items():
        assert 0.25 < share < 0.35, f"{node}: loss not applied ({share:.1%})"
    assert result.answering == ("node1",)
    assert result.replies > SOAK_SECONDS / 0.005 / 2  # 70 % of the probes reach node1
    assert (result.deaths, result.takeovers, result.moves, result.dual) == (0, 0, 0, False)
    assert result.held_twice_s == 0
