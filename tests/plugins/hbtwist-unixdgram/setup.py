"""hbtwist-unixdgram: a medium plugin for hbtwist, packaged as any third-party medium would be.

`hbtwist/plugins/unixdgram_medium.py` is installed into hbtwist's plugin package; there is
deliberately no `__init__.py` in `hbtwist/` or `hbtwist/plugins/` here.
"""

from setuptools import setup

setup(
    name="hbtwist-unixdgram",
    version="1.0",
    description="A unixdgram medium for hbtwist: heartbeats over UNIX datagram sockets.",
    packages=["hbtwist_unixdgram"],
    py_modules=["hbtwist.plugins.unixdgram_medium"],
    install_requires=["hbtwist"],
)
