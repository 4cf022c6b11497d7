"""Readers of operations, one per input; each yields ``QueryRecord`` and counts what it saw.

Adding an input is adding one module with a class following ``base.Reader`` and one entry in
``READERS``.
"""

from __future__ import annotations

from scheduler.queries.readers.base import ReadCounts, Reader
from scheduler.queries.readers.listener_stream import ListenerStreamReader
from scheduler.queries.readers.mongod_log import MongodLogReader
from scheduler.queries.readers.profile_export import ProfileExportReader
from scheduler.queries.readers.profile_live import LiveProfileReader
from workers.errors import UnknownName

#: Input name -> reader class (constructors differ: a path, a Database, a Redis client).
READERS: dict[str, type] = {
    "log": MongodLogReader,
    "profile-export": ProfileExportReader,
    "profile": LiveProfileReader,
    "listener": ListenerStreamReader,
}


def reader_class(name: str) -> type:
    """The reader registered as ``name``; ``UnknownName`` lists the known ones."""
    try:
        return READERS[name]
    except KeyError:
        raise UnknownName(
            f"unknown query input {name!r}; known: {', '.join(sorted(READERS))}"
        ) from None


__all__ = ["READERS", "ReadCounts", "Reader", "reader_class"]
