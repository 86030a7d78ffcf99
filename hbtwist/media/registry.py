"""The registry of medium kinds: Twisted plugins providing `IMediumType` in `hbtwist.plugins`.

Every module of the `hbtwist.plugins` package (its folders in every distribution, see
`hbtwist/plugins/__init__.py`) is imported, and every module attribute that provides `IPlugin`
and `IMediumType` is a medium kind, as `twisted.plugin.getPlugins` would find it. Unlike
`getPlugins`, a module that fails to import, a directive claimed by two plugins, and a plugin
claiming a built-in ha.cf directive are configuration problems (`ConfigError`), not log lines.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from collections.abc import Iterator
from types import ModuleType

from twisted.plugin import IPlugin

from hbtwist import plugins
from hbtwist.config import ConfigError, Problem
from hbtwist.config.directives import DIRECTIVES
from hbtwist.config.media import MediumParser
from hbtwist.media.interface import IMediumType


def plugin_modules(package: ModuleType = plugins) -> Iterator[tuple[str, str]]:
    """(module name, file) of every module in the plugin package's folders, each name once."""
    seen = set()
    for info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
        if info.name in seen or info.ispkg:
            continue
        seen.add(info.name)
        folder = getattr(info.module_finder, "path", "")
        yield info.name, os.path.join(folder, info.name.rpartition(".")[2] + ".py")


def medium_types(package: ModuleType = plugins) -> dict[str, IMediumType]:
    """Every installed medium kind, by the ha.cf directive it owns; ConfigError if a plugin
    module cannot be imported or two kinds (or a kind and a built-in directive) clash."""
    problems: list[Problem] = []
    kinds: dict[str, IMediumType] = {}
    owners: dict[str, str] = {}
    for name, path in plugin_modules(package):
        try:
            module = importlib.import_module(name)
        except Exception as error:
            reason = f"{type(error).__name__}: {error}"
            problems.append(Problem(path, None, f"cannot import plugin module {name}: {reason}"))
            continue
        for attribute, kind in _medium_kinds(module):
            if kinds.get(kind.directive) is kind:
                continue
            owner = f"{name}.{attribute}"
            problem = _clash(kind.directive, owner, owners)
            if problem is not None:
                problems.append(Problem(path, None, problem))
                continue
            kinds[kind.directive] = kind
            owners[kind.directive] = owner
    if problems:
        raise ConfigError(tuple(problems))
    return kinds


def medium_parsers(package: ModuleType = plugins) -> dict[str, MediumParser]:
    """The ha.cf line parser of every installed medium kind, by directive."""
    return {directive: kind.parser for directive, kind in medium_types(package).items()}


def _medium_kinds(module: ModuleType) -> Iterator[tuple[str, IMediumType]]:
    for attribute, value in sorted(vars(module).items()):
        if IPlugin.providedBy(value) and IMediumType.providedBy(value):
            yield attribute, value


def _clash(directive: str, owner: str, owners: dict[str, str]) -> str | None:
    if directive in DIRECTIVES:
        return f"medium plugin {owner} claims {directive!r}, a built-in ha.cf directive"
    if directive in owners:
        return f"medium plugins {owners[directive]} and {owner} both claim {directive!r}"
    return None
