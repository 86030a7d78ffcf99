"""The load average sent in `ld`: read from /proc, at most once a second."""

from __future__ import annotations

from pathlib import Path

from hbtwist.daemon.loadavg import CachedLoadavg, read_loadavg


def test_loadavg_is_the_first_line_of_the_file(tmp_path: Path) -> None:
    """The first line of the load average file is sent as it is, without its newline."""
    source = tmp_path / "loadavg"
    source.write_text("0.15 0.10 0.05 1/123 4567\nignored\n")
    assert read_loadavg(str(source)) == "0.15 0.10 0.05 1/123 4567"


def test_loadavg_falls_back_to_na(tmp_path: Path) -> None:
    """An unreadable or empty load average file gives `n/a`, as Heartbeat sends then."""
    assert read_loadavg(str(tmp_path / "missing")) == "n/a"
    (tmp_path / "empty").write_text("")
    assert read_loadavg(str(tmp_path / "empty")) == "n/a"


def test_cached_loadavg_is_read_once_per_period() -> None:
    """The load average is read again only after a full period of the clock has passed."""
    now = [100.0]
    readings = iter(["first", "second", "third"])
    cached = CachedLoadavg(lambda: now[0], period=1.0, read=lambda: next(readings))
    assert cached() == "first"
    now[0] += 0.5
    assert cached() == "first"
    now[0] += 0.6
    assert cached() == "second"
    assert cached() == "second"
