"""Open a trace file whatever its compression (gzip, xz or none), judged by its magic bytes."""

from __future__ import annotations

import gzip
import lzma
from pathlib import Path
from typing import BinaryIO

GZIP_MAGIC = b"\x1f\x8b"
XZ_MAGIC = b"\xfd7zXZ\x00"


def open_binary(path: Path) -> BinaryIO:
    with path.open("rb") as probe:
        head = probe.read(6)
    if head.startswith(GZIP_MAGIC):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    if head.startswith(XZ_MAGIC):
        return lzma.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")
