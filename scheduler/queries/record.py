"""The one record every input is normalized to: one executed MongoDB operation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class Op(StrEnum):
    """The kind of operation, named after the command that ran it."""

    FIND = "find"
    AGGREGATE = "aggregate"
    COUNT = "count"
    DISTINCT = "distinct"
    UPDATE = "update"
    DELETE = "delete"
    FIND_AND_MODIFY = "findAndModify"
    GET_MORE = "getMore"
    INSERT = "insert"


#: Operations that read through a filter and therefore can be helped by an index.
FILTERED_OPS = frozenset(
    {
        Op.FIND,
        Op.AGGREGATE,
        Op.COUNT,
        Op.DISTINCT,
        Op.UPDATE,
        Op.DELETE,
        Op.FIND_AND_MODIFY,
        Op.GET_MORE,
    }
)
#: Operations that write index entries; counted per namespace for the write-cost note.
WRITE_OPS = frozenset({Op.INSERT, Op.UPDATE, Op.DELETE, Op.FIND_AND_MODIFY})


@dataclass(slots=True)
class QueryRecord:
    """One operation as seen by a log line, a profiler document or a listener sample.

    ``filter``/``sort``/``projection`` hold the documents as read (raw values from the profiler,
    Extended-JSON dicts from a log, masked placeholders from the listener); ``shapes`` masks
    them. ``query_hash`` is MongoDB's plan-cache hash (``queryHash``, renamed
    ``planCacheShapeHash`` in 8.0) and ``query_shape_hash`` its 8.0 ``queryShapeHash``.
    Counters are ``None`` when the source does not report them. For updates and deletes
    ``n_returned`` holds the documents matched/deleted, the useful output of the scan.
    """

    ns: str
    op: Op
    duration_ms: float
    filter: dict[str, Any] | None = None
    sort: dict[str, Any] | None = None
    projection: dict[str, Any] | None = None
    stages: tuple[str, ...] = ()
    keys_examined: int | None = None
    docs_examined: int | None = None
    n_returned: int | None = None
    plan_summary: str | None = None
    has_sort_stage: bool = False
    query_hash: str | None = None
    query_shape_hash: str | None = None
    ts: datetime | None = None
    app_name: str | None = None
    truncated: bool = False

    @property
    def collection(self) -> str:
        """The collection part of ``ns`` (everything after the first dot)."""
        return self.ns.partition(".")[2]

    @property
    def database(self) -> str:
        return self.ns.partition(".")[0]
