"""The host check shared by `hbctl check` and the daemon: each medium's plugin judges this host."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest

from hbtwist.cli.main import main
from hbtwist.config import ConfigError, Problem, load_config
from hbtwist.media.hostcheck import check_host, host_problems
from hbtwist.media.interface import MediumUnavailable
from hbtwist.media.registry import medium_types
from tests.conftest import VALID_HA_CF, write_config

HEAD = "node alpha\nauto_failback on\n"


def media_of(tmp_path: Path, ha_cf: str) -> Any:
    """The media of HEAD + `ha_cf`, parsed for node alpha (nothing checked against the host)."""
    directory = write_config(tmp_path / "ha.d", ha_cf=HEAD + ha_cf, haresources="")
    return load_config(directory, local_node="alpha").hacf.media


def problems(tmp_path: Path, ha_cf: str) -> list[tuple[int | None, str]]:
    """(line, message) of every host problem of HEAD + `ha_cf` with the installed plugins."""
    return [(p.line, p.message) for p in host_problems(media_of(tmp_path, ha_cf), medium_types())]


def test_missing_interface(tmp_path: Path) -> None:
    """An interface that does not exist here is a problem at its ha.cf line."""
    assert problems(tmp_path, "ucast lo 127.0.0.1\nbcast nosuchif0\n") == [
        (4, "bcast: no network interface 'nosuchif0' on this host")
    ]


def test_bcast_needs_a_broadcast_address(tmp_path: Path) -> None:
    """`bcast lo` is refused by the host check, as the daemon refuses to send on it."""
    assert problems(tmp_path, "bcast lo\n") == [
        (3, "bcast: interface 'lo' has no IPv4 broadcast address")
    ]


def test_loopback_media_accepted(tmp_path: Path) -> None:
    """ucast and mcast on `lo`, and a serial device that is absent (retried at run time), pass."""
    ha_cf = "ucast lo 127.0.0.1\nmcast lo 239.0.0.9 694 0 1\nserial /dev/nonexistent\n"
    assert problems(tmp_path, ha_cf) == []


def test_ucast6_scope_must_be_the_interface(tmp_path: Path) -> None:
    """A link-local ucast6 peer's %scope has to name the medium's own interface."""
    assert problems(tmp_path, "ucast6 lo fe80::1%nosuchif0\n") == [
        (3, "ucast6: scope 'nosuchif0' of fe80::1 is not interface 'lo'")
    ]


def test_unresolvable_peer(tmp_path: Path) -> None:
    """A ucast peer name that does not resolve is a problem."""
    assert problems(tmp_path, "ucast lo no-such-host.invalid\n") == [
        (3, "ucast: cannot resolve peer 'no-such-host.invalid'")
    ]


@dataclass(frozen=True)
class PipeMedium:
    """A third-party medium: no `interface` attribute, only what IMedium asks for."""

    kind: ClassVar[str] = "pipe"
    path: str
    location: tuple[str, int] = ("ha.cf", 7)

    @property
    def name(self) -> str:
        """The link name: the path."""
        return self.path

    def describe(self) -> str:
        """One line for humans."""
        return f"pipe {self.path}"


class PipeType:
    """A plugin kind whose host check refuses one path, crashes on another, records every call."""

    directive = "pipe"

    def __init__(self) -> None:
        self.checked: list[Any] = []

    def check_host(self, medium: PipeMedium) -> None:
        """Refuse /absent, fail with a bug on /bug."""
        self.checked.append(medium)
        if medium.path == "/absent":
            raise MediumUnavailable("no pipe at /absent")
        if medium.path == "/bug":
            raise KeyError("oops")


def test_plugin_check_host_is_called_for_its_media() -> None:
    """A third-party medium is judged by its own plugin's check_host, never read as a UDP one."""
    kind = PipeType()
    media = [PipeMedium("/here"), PipeMedium("/absent", ("ha.cf", 9))]
    assert host_problems(media, {"pipe": kind}) == [Problem("ha.cf", 9, "pipe: no pipe at /absent")]
    assert kind.checked == media


def test_plugin_bug_is_a_problem_not_a_crash() -> None:
    """A check_host raising something else than MediumUnavailable still gives one problem line."""
    assert host_problems([PipeMedium("/bug")], {"pipe": PipeType()}) == [
        Problem("ha.cf", 7, "pipe: host check failed: KeyError: 'oops'")
    ]


def test_medium_without_plugin() -> None:
    """A medium whose kind no plugin provides is a problem, and check_host raises ConfigError."""
    with pytest.raises(ConfigError) as raised:
        check_host([PipeMedium("/here")], {})
    assert [str(p) for p in raised.value.problems] == ["ha.cf:7: pipe: no medium plugin provides 'pipe'"]


def test_hbctl_check_refuses_bcast_lo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`hbctl check` fails on `bcast lo` with the daemon's reason; --no-host-check passes it."""
    directory = write_config(tmp_path / "ha.d", ha_cf=VALID_HA_CF + "bcast lo\n")
    assert main(["check", str(directory), "--node", "alpha"]) == 2
    out, err = capsys.readouterr()
    assert err == f"{directory / 'ha.cf'}:8: bcast: interface 'lo' has no IPv4 broadcast address\n"
    assert out == ""
    assert main(["check", str(directory), "--node", "alpha", "--no-host-check"]) == 0


def test_daemon_refuses_bcast_lo(tmp_path: Path) -> None:
    """The daemon's service builder refuses `bcast lo` with the same problem as `hbctl check`."""
    from hbtwist.daemon.services import build_service

    directory = write_config(tmp_path / "ha.d", ha_cf=VALID_HA_CF + "bcast lo\n")
    config = load_config(directory, local_node="alpha")
    with pytest.raises(ConfigError) as raised:
        build_service(config, str(tmp_path / "state"))
    assert [str(p) for p in raised.value.problems] == [
        f"{directory / 'ha.cf'}:8: bcast: interface 'lo' has no IPv4 broadcast address"
    ]
