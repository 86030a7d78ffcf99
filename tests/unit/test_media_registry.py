"""Finding medium plugins: clashes and broken plugin modules are reported, never silently resolved."""

from __future__ import annotations

import importlib
import itertools
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

from hbtwist import plugins
from hbtwist.cli.main import main
from hbtwist.config import ConfigError
from hbtwist.media.registry import medium_types
from tests.conftest import VALID_HA_CF, write_config

_numbers = itertools.count()

PIPE_KIND = """
from dataclasses import dataclass
from twisted.plugin import IPlugin
from zope.interface import implementer
from hbtwist.media.interface import IMediumType

@implementer(IPlugin, IMediumType)
@dataclass(frozen=True)
class Kind:
    directive: str
    parser = None

    def check_host(self, medium):
        pass

    def open(self, medium, context):
        raise NotImplementedError
"""


def plugin_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, modules: dict[str, str]
) -> ModuleType:
    """A fresh plugin package holding `modules` (name -> source)."""
    name = f"fakeplugins{next(_numbers)}"
    folder = tmp_path / name
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    for module, source in modules.items():
        (folder / f"{module}.py").write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(tmp_path))
    return importlib.import_module(name)


def messages(error: pytest.ExceptionInfo[ConfigError]) -> list[str]:
    """The problems of a ConfigError, as printed."""
    return [str(problem) for problem in error.value.problems]


def test_builtin_media_found() -> None:
    """The built-in media are plugins of hbtwist.plugins like any other."""
    assert {"bcast", "mcast", "mcast6", "ucast", "ucast6", "serial"} <= set(medium_types())


def test_two_plugins_claiming_one_directive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two plugins owning one directive are refused, both named, instead of the last one winning."""
    kind = PIPE_KIND + "\npipe = Kind('pipe')\n"
    package = plugin_package(tmp_path, monkeypatch, {"a_pipe": kind, "b_pipe": kind})
    with pytest.raises(ConfigError) as raised:
        medium_types(package)
    assert messages(raised) == [
        f"{tmp_path / package.__name__ / 'b_pipe.py'}: medium plugins "
        f"{package.__name__}.a_pipe.pipe and {package.__name__}.b_pipe.pipe both claim 'pipe'"
    ]


def test_plugin_may_not_take_a_builtin_directive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plugin claiming `keepalive` (a built-in ha.cf directive) is refused."""
    package = plugin_package(tmp_path, monkeypatch, {"rogue": PIPE_KIND + "\nk = Kind('keepalive')\n"})
    with pytest.raises(ConfigError) as raised:
        medium_types(package)
    assert messages(raised) == [
        f"{tmp_path / package.__name__ / 'rogue.py'}: medium plugin "
        f"{package.__name__}.rogue.k claims 'keepalive', a built-in ha.cf directive"
    ]


def test_plugin_may_not_replace_a_builtin_medium(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plugin claiming `bcast` next to the built-in one is refused; re-exporting the very same
    plugin object is not a clash."""
    package = plugin_package(
        tmp_path,
        monkeypatch,
        {
            "builtin": "from hbtwist.plugins.hbtwist_media import bcast, serial\n",
            "again": "from hbtwist.plugins.hbtwist_media import serial\n",
            "rogue": PIPE_KIND + "\nbcast = Kind('bcast')\n",
        },
    )
    with pytest.raises(ConfigError) as raised:
        medium_types(package)
    assert messages(raised) == [
        f"{tmp_path / package.__name__ / 'rogue.py'}: medium plugins "
        f"{package.__name__}.builtin.bcast and {package.__name__}.rogue.bcast both claim 'bcast'"
    ]


def test_import_error_names_module_and_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A plugin module that cannot be imported is a problem naming the module and the error."""
    package = plugin_package(tmp_path, monkeypatch, {"broken": "import hbtwist_no_such_module\n"})
    with pytest.raises(ConfigError) as raised:
        medium_types(package)
    assert messages(raised) == [
        f"{tmp_path / package.__name__ / 'broken.py'}: cannot import plugin module "
        f"{package.__name__}.broken: ModuleNotFoundError: No module named 'hbtwist_no_such_module'"
    ]


def test_hbctl_check_reports_a_broken_plugin_not_an_unknown_directive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """With a broken plugin in hbtwist.plugins, `hbctl check` of a config using its directive
    says the plugin failed to import (exit 2), not that the directive is unknown."""
    folder = tmp_path / "more"
    folder.mkdir()
    (folder / "hbtwist_test_broken.py").write_text("raise RuntimeError('half-installed')\n")
    monkeypatch.setattr(plugins, "__path__", [*plugins.__path__, str(folder)])
    directory = write_config(tmp_path / "ha.d", ha_cf=VALID_HA_CF + "pipe /tmp/x\n")
    assert main(["check", str(directory), "--node", "alpha"]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"{folder / 'hbtwist_test_broken.py'}: cannot import plugin module "
        "hbtwist.plugins.hbtwist_test_broken: RuntimeError: half-installed\n"
    )
