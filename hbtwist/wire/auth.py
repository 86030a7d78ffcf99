"""Heartbeat 3.0.6 authentication methods (`crc`, `md5`, `sha1`) and the keyring of authkeys."""

from __future__ import annotations

import enum
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

from hbtwist.wire.limits import MAXAUTH


class AuthMethod(enum.StrEnum):
    """An authentication method named in authkeys."""

    CRC = "crc"
    MD5 = "md5"
    SHA1 = "sha1"

    @property
    def needs_key(self) -> bool:
        """Whether authkeys must give a secret for this method."""
        return self is not AuthMethod.CRC


def _crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else (crc << 1)
        table.append(crc & 0xFFFFFFFF)
    return tuple(table)


_CRC_TABLE = _crc_table()


def crc32_posix(data: bytes) -> int:
    """CRC-32 with polynomial 0x04C11DB7, MSB first, initial 0, final XOR 0xFFFFFFFF, no length."""
    crc = 0
    table = _CRC_TABLE
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ table[(crc >> 24) ^ byte]
    return crc ^ 0xFFFFFFFF


@dataclass(frozen=True)
class AuthKey:
    """One numbered key of authkeys: an index, a method and (for md5/sha1) a secret."""

    index: int
    method: AuthMethod
    secret: bytes = field(default=b"", repr=False)

    def __post_init__(self) -> None:
        if not 0 <= self.index < MAXAUTH:
            raise ValueError(f"key index {self.index} is outside 0..{MAXAUTH - 1}")
        if self.method.needs_key and not self.secret:
            raise ValueError(f"method {self.method.value} needs a key")

    def token(self, data: bytes) -> bytes:
        """The authentication token of `data`: lower-case hex, as Heartbeat prints it."""
        keyed = self._keyed_hmac
        if keyed is None:
            return b"%x" % crc32_posix(data)
        code = keyed.copy()
        code.update(data)
        return code.hexdigest().encode("ascii")

    @cached_property
    def _keyed_hmac(self) -> hmac.HMAC | None:
        """An HMAC already keyed with the secret, copied for each token (md5 and sha1 only):
        keying once spares every message the digest lookup and the key schedule."""
        if self.method is AuthMethod.CRC:
            return None
        return hmac.new(self.secret, digestmod=self.method.value)


@dataclass(frozen=True)
class Keyring:
    """The keys of authkeys and the index used for sending (`auth N`)."""

    send_index: int
    keys: Mapping[int, AuthKey]

    def __post_init__(self) -> None:
        if self.send_index not in self.keys:
            raise ValueError(f"sending key {self.send_index} is not among the keys")

    @property
    def sending_key(self) -> AuthKey:
        """The key that signs what this node sends."""
        return self.keys[self.send_index]

    def sign(self, data: bytes) -> bytes:
        """The authentication string `b"<index> <token>"` of `data` with the sending key."""
        key = self.sending_key
        return b"%d %s" % (key.index, key.token(data))

    def verify(self, authstr: bytes, data: bytes) -> bool:
        """Whether `authstr` (`b"<index> <token>"`) authenticates `data`, in constant time."""
        index_text, space, token = authstr.partition(b" ")
        if not space or not index_text.isdigit() or len(index_text) > 2 or not token:
            return False
        key = self.keys.get(int(index_text))
        if key is None:
            return False
        return hmac.compare_digest(key.token(data), token)
