"""Heartbeat 3.0.6 authentication methods (`crc`, `md5`, `sha1`) and the keyring of authkeys."""

from __future__ import annotations

import enum
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

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


_HMAC_BLOCK_SIZE = 64
"""The block size of md5 and sha1, in bytes."""
_INNER_PAD = bytes(byte ^ 0x36 for byte in range(256))
_OUTER_PAD = bytes(byte ^ 0x5C for byte in range(256))


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
        pads = self._hmac_pads
        if pads is None:
            return b"%x" % crc32_posix(data)
        inner, outer = pads[0].copy(), pads[1].copy()
        inner.update(data)
        outer.update(inner.digest())
        return outer.hexdigest().encode("ascii")

    @cached_property
    def _hmac_pads(self) -> tuple[Any, Any] | None:
        """HMAC (RFC 2104) with the key schedule done once: the digest states after the inner
        and the outer padded key, copied for each token (md5 and sha1; None for crc)."""
        if self.method is AuthMethod.CRC:
            return None
        new = getattr(hashlib, self.method.value)
        key = self.secret
        if len(key) > _HMAC_BLOCK_SIZE:
            key = new(key).digest()
        key = key.ljust(_HMAC_BLOCK_SIZE, b"\0")
        return new(key.translate(_INNER_PAD)), new(key.translate(_OUTER_PAD))


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
