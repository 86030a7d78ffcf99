"""Plugins of hbtwist (media), found with `twisted.plugin.getPlugins`.

Another distribution adds a medium by shipping a module in its own `hbtwist/plugins/` folder
(without an `__init__.py` there); this package extends its path to every such folder.
"""

from twisted.plugin import pluginPackagePaths

__path__.extend(pluginPackagePaths(__name__))
__all__: list[str] = []
