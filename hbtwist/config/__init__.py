"""Heartbeat 3.0.6 configuration (`ha.cf`, `authkeys`, `haresources`) read into frozen objects.

`load_config(directory)` returns a `ClusterConfig` or raises `ConfigError`, whose `problems` are
`FILE:LINE: message` records for everything wrong in all three files.
"""

from hbtwist.config.durations import parse_duration_ms
from hbtwist.config.loader import load_config
from hbtwist.config.media import (
    MEDIUM_PARSERS,
    BcastMedium,
    Mcast6Medium,
    McastMedium,
    Medium,
    MediumParser,
    SerialMedium,
    Ucast6Medium,
    UcastMedium,
)
from hbtwist.config.model import (
    ApiAuth,
    AutoFailback,
    AutoJoin,
    ClusterConfig,
    HaCf,
    LogSettings,
    Resource,
    ResourceGroup,
    ResourcePolicy,
    ResourceSettings,
    RespawnEntry,
)
from hbtwist.config.problems import ConfigError, Problem
from hbtwist.config.summary import summarize

__all__ = [
    "MEDIUM_PARSERS",
    "ApiAuth",
    "AutoFailback",
    "AutoJoin",
    "BcastMedium",
    "ClusterConfig",
    "ConfigError",
    "HaCf",
    "LogSettings",
    "Mcast6Medium",
    "McastMedium",
    "Medium",
    "MediumParser",
    "Problem",
    "Resource",
    "ResourceGroup",
    "ResourcePolicy",
    "ResourceSettings",
    "RespawnEntry",
    "SerialMedium",
    "Ucast6Medium",
    "UcastMedium",
    "load_config",
    "parse_duration_ms",
    "summarize",
]
