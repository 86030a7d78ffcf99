"""The registry of medium kinds, discovered as Twisted plugins of `IMediumType`."""

from __future__ import annotations

from twisted.plugin import getPlugins

from hbtwist import plugins
from hbtwist.config.media import MediumParser
from hbtwist.media.interface import IMediumType


def medium_types() -> dict[str, IMediumType]:
    """Every installed medium kind, by the ha.cf directive it owns."""
    return {plugin.directive: plugin for plugin in getPlugins(IMediumType, plugins)}


def medium_parsers() -> dict[str, MediumParser]:
    """The ha.cf line parser of every installed medium kind, by directive."""
    return {directive: kind.parser for directive, kind in medium_types().items()}
