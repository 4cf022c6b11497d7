"""Plain text traces: one key per line (any text); blank lines and ``#`` comments skipped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from workers.cache.traces.opener import open_binary


def read(path: Path) -> Iterator[str]:
    with open_binary(path) as stream:
        for raw in stream:
            line = raw.decode("utf-8").strip()
            if line and not line.startswith("#"):
                yield line
