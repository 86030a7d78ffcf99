"""Plugins of hbtwist (media), found by `hbtwist.media.registry` (see doc/media-plugins.md).

Another distribution adds a medium by shipping a module in its own `hbtwist/plugins/` folder
(without an `__init__.py` there); this package extends its path to every such folder.
"""

from twisted.plugin import pluginPackagePaths

__path__.extend(pluginPackagePaths(__name__))
__all__: list[str] = []
