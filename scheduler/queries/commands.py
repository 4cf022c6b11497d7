"""Where the filter, sort and projection sit in each kind of MongoDB command document.

Shared by every reader: a mongod log line, a profiler document and a listener sample all carry
the command document in the same wire format.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scheduler.queries.record import Op


@dataclass(frozen=True, slots=True)
class Statement:
    """One filtered operation inside a command (an update command may hold several)."""

    op: Op
    filter: dict[str, Any] | None
    sort: dict[str, Any] | None = None
    projection: dict[str, Any] | None = None
    stages: tuple[str, ...] = ()


def _doc(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


def _find(cmd: dict[str, Any]) -> list[Statement]:
    return [
        Statement(
            Op.FIND,
            _doc(cmd.get("filter")) or {},
            _doc(cmd.get("sort")),
            _doc(cmd.get("projection")),
        )
    ]


def _aggregate(cmd: dict[str, Any]) -> list[Statement]:
    """The first ``$match`` (and a ``$sort`` right after it) is what an index can serve."""
    pipeline = [s for s in cmd.get("pipeline") or () if isinstance(s, dict) and s]
    stages = tuple(next(iter(s)) for s in pipeline)
    match: dict[str, Any] | None = None
    sort: dict[str, Any] | None = None
    rest = stages
    if stages[:1] == ("$match",):
        match = _doc(pipeline[0]["$match"])
        rest = stages[1:]
    if rest[:1] == ("$sort",):
        sort = _doc(pipeline[len(stages) - len(rest)]["$sort"])
    return [Statement(Op.AGGREGATE, match, sort, None, stages)]


def _count(cmd: dict[str, Any]) -> list[Statement]:
    return [Statement(Op.COUNT, _doc(cmd.get("query")) or {})]


def _distinct(cmd: dict[str, Any]) -> list[Statement]:
    return [Statement(Op.DISTINCT, _doc(cmd.get("query")) or {})]


def _find_and_modify(cmd: dict[str, Any]) -> list[Statement]:
    return [Statement(Op.FIND_AND_MODIFY, _doc(cmd.get("query")) or {}, _doc(cmd.get("sort")))]


def _update(cmd: dict[str, Any]) -> list[Statement]:
    return [
        Statement(Op.UPDATE, _doc(s.get("q")) or {})
        for s in cmd.get("updates") or ()
        if isinstance(s, dict)
    ]


def _delete(cmd: dict[str, Any]) -> list[Statement]:
    return [
        Statement(Op.DELETE, _doc(s.get("q")) or {})
        for s in cmd.get("deletes") or ()
        if isinstance(s, dict)
    ]


def _insert(cmd: dict[str, Any]) -> list[Statement]:
    return [Statement(Op.INSERT, None)]


#: Command name -> how to find its statements. Names are matched case-sensitively except
#: ``findAndModify``, which drivers also send in lower case.
HANDLERS: dict[str, Callable[[dict[str, Any]], list[Statement]]] = {
    "find": _find,
    "aggregate": _aggregate,
    "count": _count,
    "distinct": _distinct,
    "findAndModify": _find_and_modify,
    "findandmodify": _find_and_modify,
    "update": _update,
    "delete": _delete,
    "insert": _insert,
}


def command_name(cmd: dict[str, Any]) -> str:
    return next(iter(cmd), "")


def statements(cmd: dict[str, Any]) -> list[Statement] | None:
    """The statements of a command; None when the command is not a query or write.

    A write command without its statement list (mongod logs each statement on its own line
    and the batch without them) gives an empty list.
    """
    handler = HANDLERS.get(command_name(cmd))
    return None if handler is None else handler(cmd)


def write_statement(kind: str, stmt: dict[str, Any]) -> Statement | None:
    """A single update/delete statement as logged (``{"q": ..., "u": ...}``)."""
    op = {"update": Op.UPDATE, "remove": Op.DELETE, "delete": Op.DELETE}.get(kind)
    if op is None:
        return None
    return Statement(op, _doc(stmt.get("q")) or {})
