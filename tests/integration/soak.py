"""A loss soak of the failover lab: both nodes drop a share of what they receive for a while, and
nobody dies; what the client saw and what the nodes reported during it (bench/loss.py and
test_loss_failover.py).

False deaths are a node declaring its living peer dead; false failovers are the address changing
node as the client sees it (which node answers), and for hbtwist also the groups node2 started;
dual service is one datagram answered by both nodes, or the answering node changing and changing
back within a second. The client may hear one node while both hold the address (its ARP entry
names one of them), so for hbtwist the time both nodes ran the group is measured too, from their
group events.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from tests.integration.failover import VIP, HbtwistPair, Scenario
from tests.integration.keepalived import KeepalivedPair
from tests.integration.service import Prober, Reply, interleaved

POLL_SECONDS = 1.0


@dataclass
class Soak:
    """What one system did during one loss period."""

    system: str
    percent: int
    seconds: float = 0.0
    dropped: dict[str, float] = field(default_factory=dict)
    """The measured share of packets dropped, by node."""
    replies: int = 0
    """Replies the client received during the loss period."""
    answering: tuple[str, ...] = ()
    """The nodes that answered during the loss period, in order of first reply."""
    moves: int = 0
    """How many times the answering node changed, as the client saw it."""
    dual: bool = False
    deaths: int | None = None
    takeovers: int | None = None
    held_twice_s: float | None = None
    """hbtwist: how long both nodes ran the group at once."""
    link_deaths: int | None = None
    late: int | None = None
    stalls: int | None = None
    problem: str | None = None

    def line(self) -> str:
        """The figures on one line."""
        parts = [f"{self.system:<28} {self.percent:>3} % loss {self.seconds:5.0f} s"]
        if self.problem:
            return f"{parts[0]}: {self.problem}"
        if self.deaths is not None:
            parts.append(f"false deaths {self.deaths}")
        parts.append(f"VIP moves {self.moves}")
        if self.takeovers is not None:
            parts.append(f"takeovers {self.takeovers}")
        parts.append("DUAL SERVICE" if self.dual else "never served twice")
        if self.held_twice_s:
            parts.append(f"BOTH NODES RAN THE GROUP for {self.held_twice_s:.1f} s")
        if self.link_deaths is not None:
            parts.append(
                f"link deaths {self.link_deaths}, late warnings {self.late}, stalls {self.stalls}"
            )
        measured = ", ".join(f"{name} {share:.1%}" for name, share in sorted(self.dropped.items()))
        parts.append(f"dropped: {measured}")
        return "; ".join(parts)


def moves(replies: list[Reply]) -> int:
    """How often the answering host changed."""
    return sum(1 for a, b in pairwise(replies) if a.host != b.host)


def soak(
    scenario: Scenario,
    name: str,
    system: HbtwistPair | KeepalivedPair,
    percent: int,
    seconds: float,
) -> Soak:
    """Start `system`, apply `percent` % loss on both nodes for `seconds`, count; always resets."""
    lab = scenario.lab
    result = Soak(name, percent)
    prober = Prober(lab, scenario.client, VIP, name=f"soak-{percent}")
    try:
        system.start(prober, time.time())
        began_wall, began = time.time(), time.monotonic()
        for host in scenario.nodes:
            lab.set_loss(host, percent)
        while time.monotonic() - began < seconds:
            time.sleep(POLL_SECONDS)
        result.seconds = time.monotonic() - began
        for host in scenario.nodes:
            seen, dropped = lab.loss_counters(host)
            result.dropped[host.name] = dropped / max(seen, 1)
            lab.set_loss(host, 0)
        replies = [reply for reply in prober.replies() if reply.received >= began_wall]
        result.replies = len(replies)
        result.answering = tuple(dict.fromkeys(reply.host for reply in replies))
        result.moves = moves(replies)
        result.dual = interleaved(replies)
        if isinstance(system, HbtwistPair):
            count_hbtwist(system, began_wall, result)
    except Exception as error:  # noqa: BLE001 - a failed soak is reported, the others still run
        result.problem = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
    finally:
        for host in scenario.nodes:
            lab.set_loss(host, 0)
        prober.stop()
        system.reset()
    return result


def count_hbtwist(pair: HbtwistPair, since: float, result: Soak) -> None:
    """hbtwist's own reports since `since`: deaths, takeovers, link deaths, warnings, stalls."""

    def count(kind: str, **fields: object) -> int:
        return sum(
            1
            for node in pair.nodes.values()
            for event in node.events(kind, **fields)
            if event.get("time", 0) >= since
        )

    result.deaths = count("node_status_changed", new="dead")
    result.takeovers = sum(
        1
        for event in pair.nodes["node2"].events("group_state_changed", new="running")
        if event.get("time", 0) >= since
    )
    now = time.time()
    first, second = (
        running_spans(pair.nodes[name].events("group_state_changed"), now) for name in ("node1", "node2")
    )
    result.held_twice_s = sum(
        max(0.0, min(end_a, end_b) - max(start_a, start_b, since))
        for start_a, end_a in first
        for start_b, end_b in second
    )
    result.link_deaths = count("link_status_changed", new="dead")
    result.late = count("late_heartbeat")
    result.stalls = count("local_stall")


def running_spans(events: list[dict[str, Any]], now: float) -> list[tuple[float, float]]:
    """(from, to) of every time a node ran the group, from its group events (to `now` if it
    still runs it); events that only name a new holder (old state == new) are not changes."""
    spans = []
    began = None
    for event in events:
        if event["old"] == event["new"]:
            continue
        if event["new"] == "running" and began is None:
            began = float(event["time"])
        elif event["new"] != "running" and began is not None:
            spans.append((began, float(event["time"])))
            began = None
    if began is not None:
        spans.append((began, now))
    return spans
