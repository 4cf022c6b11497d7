"""Confirm suggestions on a live server with ``explain`` (queryPlanner: nothing is executed).

Shapes hold placeholders, not values, so the probe uses a typed stand-in for each one; the
planner's choice between a collection scan and an index depends on the shape, rarely on the
values. Servers without ``explain`` (or mongomock) leave suggestions unconfirmed, with a note.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from bson import Binary, MaxKey, MinKey, ObjectId, Timestamp
from bson.son import SON
from pymongo.database import Database
from pymongo.errors import PyMongoError

from scheduler.queries.advice import Suggestion, key_name, serves
from scheduler.queries.plans import explain_indexes
from scheduler.queries.record import Op
from scheduler.queries.shapes import Shape
from workers import querylistener as q

_STAND_INS: dict[str, Any] = {
    q.NUMBER: 0,
    q.STRING: "",
    q.BOOL: True,
    q.NULL: None,
    q.DATE: datetime(1970, 1, 1, tzinfo=UTC),
    q.OID: ObjectId("0" * 24),
    q.REGEX: re.compile("^$"),
    q.BINARY: Binary(b""),
    q.TIMESTAMP: Timestamp(0, 0),
    q.OBJECT: {},
    q.ARRAY: [],
    q.MINKEY: MinKey(),
    q.MAXKEY: MaxKey(),
    q.CODE: "",
    q.OTHER: None,
}


def probe(value: Any) -> Any:
    """A filter of real values with the shape of ``value`` (placeholders → stand-ins)."""
    if isinstance(value, dict):
        return {k: probe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [probe(v) for v in value]
    if isinstance(value, str) and value in _STAND_INS:
        return _STAND_INS[value]
    return value


def explain_command(shape: Shape) -> SON[str, Any]:
    """A read command with the shape's filter and sort; writes are explained as finds."""
    coll = shape.ns.partition(".")[2]
    filt = probe(shape.filter or {})
    sort = dict(shape.sort) if shape.sort else None
    if shape.op is Op.AGGREGATE:
        pipeline: list[dict[str, Any]] = [{"$match": filt}]
        if sort:
            pipeline.append({"$sort": sort})
        cmd: dict[str, Any] = {"aggregate": coll, "pipeline": pipeline, "cursor": {}}
    elif shape.op is Op.COUNT:
        cmd = {"count": coll, "query": filt}
    else:
        cmd = {"find": coll, "filter": filt, **({"sort": sort} if sort else {})}
    return SON([("explain", cmd), ("verbosity", "queryPlanner")])


def confirm(
    client_dbs: Mapping[str, Database[Any]],
    suggestions: Sequence[Suggestion],
    shapes: Mapping[str, Shape],
) -> list[str]:
    """Run explain for each suggestion's first shape; sets ``confirmed``; returns notes.

    ``client_dbs`` maps database names to handles; namespaces elsewhere are not explained.
    """
    notes: list[str] = []
    for sug in suggestions:
        db = client_dbs.get(sug.ns.partition(".")[0])
        shape = shapes.get(sug.shapes[0]) if sug.shapes else None
        if db is None or shape is None:
            continue
        try:
            reply = db.command(explain_command(shape))
        except (PyMongoError, NotImplementedError) as exc:
            notes.append(
                f"explain not available on this server ({exc}); suggestions are unconfirmed"
            )
            return notes
        collscan, used = explain_indexes(reply)
        if collscan:
            sug.confirmed = True
            sug.notes.append("explain confirms a COLLSCAN today")
        elif any(serves(k, e) for k in used for e in sug.esrs):
            sug.confirmed = False
            names = ", ".join(key_name(k) for k in used)
            sug.notes.append(
                f"explain now picks index {names}, which serves the shape: "
                "the suggestion may be stale"
            )
        else:
            sug.confirmed = True
            names = ", ".join(key_name(k) for k in used) or "no index"
            sug.notes.append(
                f"explain confirms the plan uses {names}, which does not serve "
                "the shape in ESR order"
            )
    return notes
