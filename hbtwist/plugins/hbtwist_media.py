"""The built-in media: bcast, mcast, mcast6, ucast, ucast6, serial, ping, ping6 and ping_group."""

from hbtwist.media.ping import PING_MEDIUM_TYPES
from hbtwist.media.serial import SerialMediumType
from hbtwist.media.udp import UDP_MEDIUM_TYPES

bcast, mcast, mcast6, ucast, ucast6 = UDP_MEDIUM_TYPES
serial = SerialMediumType()
ping, ping6, ping_group = PING_MEDIUM_TYPES
