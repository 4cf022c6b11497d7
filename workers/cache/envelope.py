"""The byte format of every cached value: a 5-byte header, then the (maybe compressed) payload.

``b"im"``, a version byte, the serializer's ident byte and a flags byte. A value without our
header, with an unknown version or serializer, or whose payload does not decode is *corrupt*:
the cache treats it as a miss (and counts it) instead of failing the caller.
"""

from __future__ import annotations

import zlib
from typing import Any

from workers.cache.serializers import Serializer, by_ident
from workers.errors import InvalidInput

MAGIC = b"im"
VERSION = 1
HEADER_SIZE = 5
#: Flag bit: the payload is zlib-compressed (cold tier).
COMPRESSED = 0x01
#: zlib level for the cold tier: 6 is zlib's default balance of ratio and CPU.
COMPRESSION_LEVEL = 6


class CorruptValue(Exception):
    """A stored value that is not ours or does not decode; callers treat it as a miss."""


def encode(value: Any, serializer: Serializer, *, compress: bool = False) -> bytes:
    """Serialize ``value``; raise ``InvalidInput`` when the format cannot hold it."""
    try:
        payload = serializer.dumps(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidInput(
            f"value of type {type(value).__name__} cannot be cached as {serializer.name}: {exc}"
        ) from None
    return _pack(serializer.ident, payload, compress)


def decode(blob: object) -> Any:
    """The value stored in ``blob``; raise ``CorruptValue`` for anything we did not write."""
    serializer, payload = _unpack(blob)
    try:
        return serializer.loads(payload)
    except Exception as exc:  # any decoder failure means the bytes are not what we wrote
        raise CorruptValue(f"{serializer.name} payload does not decode: {exc}") from None


def compressed(blob: bytes) -> bytes:
    """The same value with a compressed payload (for the cold tier); corrupt input raises."""
    serializer, payload = _unpack(blob)
    return _pack(serializer.ident, payload, True)


def expanded(blob: bytes) -> bytes:
    """The same value with a plain payload (a cold value promoted back to warm)."""
    serializer, payload = _unpack(blob)
    return _pack(serializer.ident, payload, False)


def _pack(ident: int, payload: bytes, compress: bool) -> bytes:
    flags = 0
    if compress:
        payload = zlib.compress(payload, COMPRESSION_LEVEL)
        flags |= COMPRESSED
    return MAGIC + bytes((VERSION, ident, flags)) + payload


def _unpack(blob: object) -> tuple[Serializer, bytes]:
    if not isinstance(blob, bytes | bytearray) or len(blob) < HEADER_SIZE:
        raise CorruptValue("not a cached value (too short or not bytes)")
    if blob[:2] != MAGIC or blob[2] != VERSION:
        raise CorruptValue("not a cached value (unknown header)")
    serializer = by_ident(blob[3])
    if serializer is None:
        raise CorruptValue(f"unknown serializer byte {blob[3]:#x}")
    payload = bytes(blob[HEADER_SIZE:])
    if blob[4] & COMPRESSED:
        try:
            payload = zlib.decompress(payload)
        except zlib.error as exc:
            raise CorruptValue(f"compressed payload does not inflate: {exc}") from None
    return serializer, payload
