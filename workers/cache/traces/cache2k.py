"""cache2k traces: each request a big-endian signed 32-bit integer, no separators."""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from pathlib import Path
from sys import byteorder

from workers.cache.traces.opener import open_binary

#: Bytes read per chunk: large enough to be fast, small enough to stop early on ``limit``.
CHUNK_BYTES = 1 << 20


def read(path: Path) -> Iterator[int]:
    with open_binary(path) as stream:
        while chunk := stream.read(CHUNK_BYTES):
            if len(chunk) % 4:
                extra = stream.read(4 - len(chunk) % 4)
                chunk += extra
                if len(chunk) % 4:
                    raise ValueError("length is not a multiple of 4 bytes")
            values = array("i", chunk)
            if byteorder == "little":
                values.byteswap()
            yield from values
