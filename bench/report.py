"""The side-by-side table the cluster benchmarks print, and the formatting of its cells."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.idle import Window

KINDS = ("hbtwist", "Heartbeat 3.0.6")
TITLE_WIDTH = 60
"""Process titles are cut to this many characters (hbtwist's is its whole command line)."""
FLAGS = (
    "[saturated]: the whole machine was at least 90 % busy in the window, so the daemons used what "
    "they got, not what they wanted; [false deaths]: nodes declared living peers dead in the window "
    "(see the idle windows below), so the figures include their recoveries"
)


def ms(seconds: float | None, spread: Sequence[float] = ()) -> str | None:
    """`512 ms`, with the range of `spread` as `(480-540)`; None for None."""
    if seconds is None:
        return None
    text = f"{seconds * 1000:.0f} ms"
    if spread:
        text += f" ({min(spread) * 1000:.0f}-{max(spread) * 1000:.0f})"
    return text


def ratio(ours: float, theirs: float | None) -> str | None:
    """hbtwist / Heartbeat with two decimals; None without a Heartbeat figure."""
    if theirs is None or theirs == 0:
        return None
    return f"{ours / theirs:.2f}"


def interpreter_of(command: Sequence[str]) -> str:
    """The Python interpreter a console script runs with (its `#!` line), or the command's first
    word when that is the interpreter itself."""
    first = Path(command[0])
    try:
        line = first.read_bytes().split(b"\n", 1)[0].decode()
    except (OSError, UnicodeDecodeError):
        return str(first)
    return line[2:].split()[0] if line.startswith("#!") else str(first)


def process_summary(titles: Sequence[str]) -> str:
    """`18: 7 x heartbeat: read: ucast eth0, ...` for a node's process titles."""
    counts = Counter(
        name if len(name) <= TITLE_WIDTH else name[: TITLE_WIDTH - 3] + "..." for name in titles
    )
    parts = [f"{count} x {name}" if count > 1 else name for name, count in sorted(counts.items())]
    return f"{len(titles)}: " + ", ".join(parts)


def window_summary(label: str, window: Window, kinds: Sequence[str] = KINDS) -> str:
    """The machine's load over a window, and per kind the troubles and scheduling seen."""
    parts = [
        f"{label}: machine {window.machine_busy_percent:.0f} % busy over {window.seconds:.0f} s, "
        f"{window.clusters_percent:.0f} % of it these clusters"
    ]
    for kind, cost in zip(kinds, window.costs, strict=False):
        trouble = ", ".join(f"{count} {what}" for what, count in cost.trouble.items() if count)
        scheduling = ", ".join(f"{policy} x{count}" for policy, count in sorted(cost.scheduling.items()))
        parts.append(f"{kind}: {trouble or 'no deaths, no late heartbeats'}; {scheduling}")
    return "\n    ".join(parts)


@dataclass
class Table:
    """Rows of hbtwist | Heartbeat 3.0.6 | ratio, with notes and the targets met or not."""

    heartbeat: bool
    """Whether Heartbeat was measured (else only hbtwist's column is printed)."""
    rows: list[tuple[str, str, str | None, str | None]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    windows: list[str] = field(default_factory=list)
    targets: list[tuple[str, bool, str]] = field(default_factory=list)
    processes: dict[str, list[str]] = field(default_factory=dict)

    def row(self, label: str, ours: str | None, theirs: str | None, quotient: str | None) -> None:
        """One measurement: hbtwist's figure, Heartbeat's, and hbtwist / Heartbeat."""
        self.rows.append((label, ours or "-", theirs, quotient))

    def note(self, text: str) -> None:
        """A line printed under the table."""
        self.notes.append(text)

    def target(self, what: str, met: bool, caveat: str = "") -> None:
        """An issue-12 target and whether this run met it; with a `caveat` (why the figure
        cannot judge it) it is printed as not judged."""
        self.targets.append((what, met, caveat))

    def print(self) -> None:
        """Print the table, then the notes, the windows, the processes and the targets."""
        header = ("measurement", *KINDS, "ratio") if self.heartbeat else ("measurement", KINDS[0])
        cells = [
            (label, ours, theirs or "-", quotient or "-") if self.heartbeat else (label, ours)
            for label, ours, theirs, quotient in self.rows
        ]
        widths = [max(len(row[i]) for row in [header, *cells]) for i in range(len(header))]
        for number, row in enumerate([header, *cells]):
            print(
                " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            )
            if number == 0:
                print("-+-".join("-" * width for width in widths))
        print()
        if any("[" in row[0] for row in self.rows):
            print(FLAGS)
        for text in self.notes:
            print(text)
        if self.windows:
            print("Idle windows:")
            for text in self.windows:
                print("  " + text)
        for kind, titles in self.processes.items():
            print(
                f"Processes of one {kind} node at 8 nodes ({'ps in its namespaces'}): "
                f"{process_summary(titles)}"
            )
        if self.targets:
            print("Issue 12 targets for hbtwist:")
            for what, met, caveat in self.targets:
                verdict = "met       " if met else "NOT met   "
                if caveat:
                    verdict = "not judged"
                    what += f" (would be {'met' if met else 'NOT met'}; {caveat})"
                print(f"  {verdict}  {what}")
