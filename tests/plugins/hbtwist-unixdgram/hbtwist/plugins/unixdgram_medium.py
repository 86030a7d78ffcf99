"""The `unixdgram` medium of the hbtwist-unixdgram distribution, as an hbtwist plugin."""

from hbtwist_unixdgram.medium import UnixDgramMediumType

unixdgram = UnixDgramMediumType()
