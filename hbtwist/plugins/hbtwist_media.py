"""The built-in media: bcast, mcast, mcast6, ucast, ucast6 and serial."""

from hbtwist.media.serial import SerialMediumType
from hbtwist.media.udp import UDP_MEDIUM_TYPES

bcast, mcast, mcast6, ucast, ucast6 = UDP_MEDIUM_TYPES
serial = SerialMediumType()
