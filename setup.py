"""Packaging for hbtwist; the version is read from `hbtwist/__init__.py`."""

import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
VERSION = re.search(
    r'^__version__ = "([^"]+)"$', (HERE / "hbtwist" / "__init__.py").read_text(), re.MULTILINE
)
if VERSION is None:
    raise RuntimeError("hbtwist/__init__.py defines no __version__")

TEST_REQUIRES = [
    "pytest",
    "hypothesis",
    "pytest-timeout",
    "paramiko",  # the SSH client of the manhole tests
]

setup(
    name="hbtwist",
    version=VERSION.group(1),
    description="A Heartbeat-3.0.6-compatible cluster heartbeat daemon built on Twisted.",
    long_description=(HERE / "README.md").read_text(),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    # twisted/ and twisted/plugins/ have no __init__.py on purpose: the plugin module is
    # installed into Twisted's own twisted.plugins package.
    packages=[*find_packages(include=["hbtwist", "hbtwist.*"]), "twisted.plugins"],
    install_requires=[
        "twisted[conch]",
        "zope.interface",
        "pyserial",
        "psutil",
        "pyroute2>=0.9",
        "service-identity",
        "pyopenssl",
        "prometheus_client",
    ],
    extras_require={
        "test": TEST_REQUIRES,
        "dev": [*TEST_REQUIRES, "mypy", "mypy-zope", "ruff"],
    },
    entry_points={"console_scripts": ["hbctl = hbtwist.cli.main:main"]},
    data_files=[("share/hbtwist", ["tac/heartbeat.tac"])],
)
