"""LIRS traces: one integer block number per line; a ``*`` line is a checkpoint, skipped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from workers.cache.traces.opener import open_binary


def read(path: Path) -> Iterator[int]:
    with open_binary(path) as stream:
        for raw in stream:
            line = raw.strip()
            if line and line != b"*":
                yield int(line)
