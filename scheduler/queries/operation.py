"""One logged or profiled operation (a slow-query ``attr`` or a ``system.profile`` document)
turned into records.

Both carry the same fields (``ns``, ``command``, ``planSummary``, ``docsExamined``,
``nreturned``, ``queryHash``...); they differ in how they name the duration and the kind.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from scheduler.queries.commands import Statement, command_name, statements, write_statement
from scheduler.queries.record import Op, QueryRecord

#: mongod's truncated command text starts with the command name: ``{ find: "coll", ...``.
_TRUNCATED_NAME = re.compile(r"^\{\s*\"?(\w+)\"?\s*:")
_TRUNCATED_OPS = {
    "find": Op.FIND,
    "aggregate": Op.AGGREGATE,
    "count": Op.COUNT,
    "distinct": Op.DISTINCT,
    "findAndModify": Op.FIND_AND_MODIFY,
    "update": Op.UPDATE,
    "delete": Op.DELETE,
    "getMore": Op.GET_MORE,
    "insert": Op.INSERT,
}
#: Skip reason of a write command whose statements mongod logs one per line.
WRITE_BATCH = "write batch (statements logged separately)"


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, dict):  # {"$numberLong": "12"}
        try:
            return int(next(iter(value.values())))
        except (StopIteration, TypeError, ValueError):
            return None
    return None


def _returned(doc: dict[str, Any], op: Op) -> int | None:
    if op is Op.UPDATE:
        return _int(doc.get("nMatched"))
    if op is Op.DELETE:
        return _int(doc.get("ndeleted"))
    return _int(doc.get("nreturned"))


def _namespace(ns: str, command: dict[str, Any], name: str) -> str:
    """Write commands are logged on ``db.$cmd``; the collection is the command's value."""
    db, _, coll = ns.partition(".")
    target = command.get(name)
    if (not coll or coll == "$cmd") and isinstance(target, str):
        return f"{db}.{target}"
    return ns


def _record(
    doc: dict[str, Any],
    ns: str,
    stmt: Statement,
    ms: float,
    ts: datetime | None,
    truncated: bool = False,
) -> QueryRecord:
    hash_ = doc.get("planCacheShapeHash") or doc.get("queryHash")
    shape_hash = doc.get("queryShapeHash")
    return QueryRecord(
        ns=ns,
        op=stmt.op,
        duration_ms=ms,
        filter=stmt.filter,
        sort=stmt.sort,
        projection=stmt.projection,
        stages=stmt.stages,
        keys_examined=_int(doc.get("keysExamined")),
        docs_examined=_int(doc.get("docsExamined")),
        n_returned=_returned(doc, stmt.op),
        plan_summary=doc.get("planSummary") if isinstance(doc.get("planSummary"), str) else None,
        has_sort_stage=bool(doc.get("hasSortStage")),
        query_hash=hash_ if isinstance(hash_, str) else None,
        query_shape_hash=shape_hash if isinstance(shape_hash, str) else None,
        ts=ts,
        app_name=doc.get("appName") if isinstance(doc.get("appName"), str) else None,
        truncated=truncated,
    )


def operation_records(
    doc: dict[str, Any], kind: str, ms: float, ts: datetime | None
) -> list[QueryRecord] | str:
    """The records of one operation, or the reason it holds none (a skip, not an error).

    ``kind`` is the log's ``attr.type`` or the profiler's ``op`` (``command``, ``query``,
    ``update``, ``remove``, ``getmore``, ``insert``).
    """
    ns = doc.get("ns")
    command = doc.get("command")
    if not isinstance(ns, str) or not isinstance(command, dict):
        raise ValueError("no ns or command")
    if kind in ("update", "remove"):
        stmt = write_statement(kind, command)
        return [] if stmt is None else [_record(doc, ns, stmt, ms, ts)]
    if "$truncated" in command:
        found = _TRUNCATED_NAME.match(str(command["$truncated"]))
        op = _TRUNCATED_OPS.get(found.group(1)) if found else None
        if op is None:
            return "truncated command"
        return [_record(doc, ns, Statement(op, None), ms, ts, truncated=True)]
    name = command_name(command)
    if name == "getMore":
        origin = doc.get("originatingCommand")
        stmts = statements(origin) if isinstance(origin, dict) else None
        if not stmts:
            return "getMore without its originating command"
        s = stmts[0]
        stmt = Statement(Op.GET_MORE, s.filter, s.sort, s.projection, s.stages)
        return [_record(doc, _namespace(ns, origin, command_name(origin)), stmt, ms, ts)]
    stmts = statements(command)
    if stmts is None:
        return f"command {name}" if name else "empty command"
    if not stmts:
        return WRITE_BATCH
    ns = _namespace(ns, command, name)
    share = ms / len(stmts)
    return [_record(doc, ns, s, share if len(stmts) > 1 else ms, ts) for s in stmts]


def profile_records(doc: dict[str, Any]) -> list[QueryRecord] | str:
    """The records of one ``system.profile`` document (MongoDB 3.6+ layout)."""
    kind = doc.get("op")
    if not isinstance(kind, str):
        raise ValueError("no op")
    ns = doc.get("ns")
    if isinstance(ns, str) and ns.endswith(".system.profile"):
        return "profiler reads"
    ms = _int(doc.get("millis"))
    if ms is None:
        raise ValueError("no millis")
    ts = doc.get("ts")
    if isinstance(ts, datetime) and ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return operation_records(doc, kind, float(ms), ts if isinstance(ts, datetime) else None)
