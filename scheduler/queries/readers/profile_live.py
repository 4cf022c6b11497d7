"""``system.profile`` of a live database, read from where the previous run stopped.

Resuming is by the profiler's ``ts``: entries strictly after the last one read. The profiler
stamps milliseconds, so an entry written in the same millisecond as the last one read, after
the read, is missed; that is one operation at most per run and keeps the query index-free
(``system.profile`` is a capped collection without indexes).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from pymongo.database import Database
from pymongo.errors import PyMongoError

from scheduler.queries.operation import profile_records
from scheduler.queries.readers.base import ReadCounts
from scheduler.queries.record import QueryRecord
from workers.errors import BackendUnavailable

#: Profiler entries read in one run: a full default-size (1 MB) profile holds far fewer.
MAX_DOCS = 100_000


class LiveProfileReader:
    """Reads ``db.system.profile``; a server error raises ``BackendUnavailable``."""

    def __init__(
        self, db: Database[Any], *, start: dict[str, Any] | None = None, limit: int = MAX_DOCS
    ) -> None:
        self.db = db
        self.source = f"system.profile of {db.name}"
        self.counts = ReadCounts()
        self._limit = limit
        since = (start or {}).get("ts")
        self._since = datetime.fromisoformat(since) if since else None
        self._last = self._since

    def position(self) -> dict[str, Any]:
        return {"ts": self._last.isoformat() if self._last else None}

    def records(self) -> Iterator[QueryRecord]:
        query: dict[str, Any] = {}
        if self._since is not None:
            query = {"ts": {"$gt": self._since}}
        counts = self.counts
        try:
            cursor = self.db["system.profile"].find(query).sort("ts", 1).limit(self._limit)
            for doc in cursor:
                counts.lines += 1
                ts = doc.get("ts")
                if isinstance(ts, datetime):
                    self._last = ts if ts.tzinfo else ts.replace(tzinfo=UTC)
                try:
                    found = profile_records(doc)
                except (KeyError, TypeError, ValueError) as exc:
                    counts.bad(f"entry at {ts}", f"not a profiler document ({exc})")
                    continue
                if isinstance(found, str):
                    counts.skipped[found] += 1
                    continue
                counts.records += len(found)
                yield from found
        except PyMongoError as exc:
            raise BackendUnavailable(f"cannot read {self.source}: {exc}") from None
