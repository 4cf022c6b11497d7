"""Trace readers for the simulator: one module per format, looked up by name.

Each reader yields integer-like keys in request order from a file path; ``limit`` stops early
so a huge trace can be replayed in part.
"""

from __future__ import annotations

import lzma
from collections.abc import Callable, Iterator
from itertools import islice
from pathlib import Path

from workers.errors import InvalidInput, UnknownName

TraceReader = Callable[[Path], Iterator[int | str]]


def _registry() -> dict[str, TraceReader]:
    from workers.cache.traces import cache2k, lines, lirs

    return {"lirs": lirs.read, "cache2k": cache2k.read, "lines": lines.read}


def trace_formats() -> list[str]:
    return sorted(_registry())


def read_trace(path: Path, fmt: str, limit: int | None = None) -> list[int | str]:
    """All keys of the trace (the first ``limit`` if given); bad files raise ``InvalidInput``."""
    readers = _registry()
    if fmt not in readers:
        raise UnknownName(f"unknown trace format {fmt!r}; known: {', '.join(sorted(readers))}")
    if not path.is_file():
        raise InvalidInput(f"trace file {path} does not exist")
    try:
        keys = list(islice(readers[fmt](path), limit))
    except (OSError, EOFError, ValueError, lzma.LZMAError) as exc:
        raise InvalidInput(f"trace file {path} is not a valid {fmt} trace: {exc}") from None
    if not keys:
        raise InvalidInput(f"trace file {path} holds no requests")
    return keys
