"""The layers of doc/architecture.md hold for every module: imports, sizes, and the plugin file."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "hbtwist"
PURE_LAYERS = ("wire", "config", "core")
TWISTED_ALLOWED_IN_PURE = "twisted.internet.interfaces"
FORBIDDEN = {
    "wire": ("hbtwist.config", "hbtwist.core", "hbtwist.media", "hbtwist.control",
             "hbtwist.daemon", "hbtwist.cli", "hbtwist.resources"),
    "config": ("hbtwist.core", "hbtwist.media", "hbtwist.control", "hbtwist.daemon", "hbtwist.cli",
               "hbtwist.resources"),
    "core": ("hbtwist.config", "hbtwist.media", "hbtwist.control", "hbtwist.daemon", "hbtwist.cli",
             "hbtwist.resources"),
    "media": ("hbtwist.control", "hbtwist.cli", "hbtwist.daemon", "hbtwist.resources"),
    "resources": ("hbtwist.media", "hbtwist.control", "hbtwist.cli", "hbtwist.daemon"),
    "control": ("hbtwist.media", "hbtwist.daemon", "hbtwist.cli", "hbtwist.resources"),
    "cli": ("hbtwist.daemon",),
}  # fmt: skip
MAX_MODULE_LINES = 450
MAX_TAP_LINES = 150


def _modules() -> list[Path]:
    return sorted(path for path in PACKAGE.rglob("*.py") if "__pycache__" not in path.parts)


def _imports(path: Path) -> list[str]:
    """Every module `path` imports, at any depth (lazy imports inside functions included)."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names.extend(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _layer(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0]


@pytest.mark.parametrize("layer", PURE_LAYERS)
def test_pure_layers_import_only_twisted_interfaces(layer: str) -> None:
    """wire, config and core import nothing of Twisted but `twisted.internet.interfaces`."""
    offenders = [
        f"{path.relative_to(PACKAGE)}: {name}"
        for path in _modules()
        if _layer(path) == layer
        for name in _imports(path)
        if (name == "twisted" or name.startswith("twisted."))
        and not name.startswith(TWISTED_ALLOWED_IN_PURE)
    ]
    assert offenders == []


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layers_import_only_downwards(layer: str) -> None:
    """No layer imports a layer above it (media never control or cli, control never media)."""
    offenders = [
        f"{path.relative_to(PACKAGE)}: {name}"
        for path in _modules()
        if _layer(path) == layer
        for name in _imports(path)
        if any(name == banned or name.startswith(banned + ".") for banned in FORBIDDEN[layer])
    ]
    assert offenders == []


def test_modules_stay_small() -> None:
    """Every module is at most about 450 lines, and the twistd options module at most 150."""
    sizes = {
        path.relative_to(PACKAGE).as_posix(): len(path.read_text().splitlines()) for path in _modules()
    }
    assert {name: size for name, size in sizes.items() if size > MAX_MODULE_LINES} == {}
    assert sizes["daemon/tap.py"] <= MAX_TAP_LINES


def test_pure_layers_do_no_host_lookups() -> None:
    """The pure layers neither resolve names nor look at network interfaces (that is the edge's
    work, done once before any service exists)."""
    lookups = ("getaddrinfo", "gethostbyname", "if_nametoindex", "if_nameindex", "ioctl")
    offenders = [
        f"{path.relative_to(PACKAGE)}: {word}"
        for path in _modules()
        if _layer(path) in PURE_LAYERS
        for word in lookups
        if word in path.read_text()
    ]
    assert offenders == []
