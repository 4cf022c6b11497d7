"""Query shapes: a filter with its values replaced by type placeholders, keys in a stable order.

Two operations that differ only in their values share a shape, and so a hash. While
normalizing, each predicate is classified for the index advice: equality, ``$in``, range
(including ``$ne``, ``$nin``, ``$regex``) or unsupported (``$where``, ``$expr``,
``$elemMatch``, geo and text operators), and each ``$or`` branch is kept apart.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from scheduler.queries.record import Op, QueryRecord
from workers.querylistener import ARRAY, OBJECT, REGEX, ejson_type, mask, placeholder


class Kind(StrEnum):
    """How a predicate can use an index: ESR puts equality first and ranges last."""

    EQUALITY = "equality"
    IN = "in"
    RANGE = "range"
    UNSUPPORTED = "unsupported"


#: Precedence when one field carries several operators: a point bound beats a range.
_PRECEDENCE = (Kind.EQUALITY, Kind.IN, Kind.RANGE, Kind.UNSUPPORTED)

FIELD_OPERATORS: dict[str, Kind] = {
    "$eq": Kind.EQUALITY,
    "$all": Kind.EQUALITY,
    "$in": Kind.IN,
    **dict.fromkeys(
        (
            "$gt",
            "$gte",
            "$lt",
            "$lte",
            "$ne",
            "$nin",
            "$regex",
            "$options",
            "$not",
            "$exists",
            "$type",
            "$mod",
            "$bitsAllSet",
            "$bitsAnySet",
            "$bitsAllClear",
            "$bitsAnyClear",
        ),
        Kind.RANGE,
    ),
    **dict.fromkeys(
        (
            "$elemMatch",
            "$size",
            "$geoWithin",
            "$geoIntersects",
            "$near",
            "$nearSphere",
            "$within",
            "$maxDistance",
            "$minDistance",
        ),
        Kind.UNSUPPORTED,
    ),
}
#: Top-level operators that no single B-tree index can serve; the shape is marked.
UNSUPPORTED_TOP = frozenset({"$where", "$expr", "$text", "$nor", "$jsonSchema"})
#: Top-level operators that do not filter and are left out of the shape.
IGNORED_TOP = frozenset({"$comment", "$sampleRate", "$alwaysTrue", "$alwaysFalse"})
#: Array operands that become the set of their element types in the shape.
_LIST_OPERANDS = frozenset({"$in", "$nin", "$all"})


@dataclass(frozen=True, slots=True)
class Predicates:
    """The fields a filter constrains and how, for index advice.

    ``fields`` covers the top level (``$and`` flattened); each ``$or`` branch is one mapping in
    ``branches``; ``unsupported`` names what no index here can serve.
    """

    fields: dict[str, Kind] = field(default_factory=dict)
    branches: tuple[dict[str, Kind], ...] = ()
    unsupported: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Shape:
    """The shape of one operation. ``id`` is stable across runs, readers and machines."""

    id: str
    ns: str
    op: Op
    filter: dict[str, Any] | None
    sort: tuple[tuple[str, int | str], ...] = ()
    projection: tuple[str, ...] = ()
    stages: tuple[str, ...] = ()
    predicates: Predicates = field(default_factory=Predicates)

    def to_dict(self) -> dict[str, Any]:
        p = self.predicates
        return {
            "id": self.id,
            "ns": self.ns,
            "op": str(self.op),
            "filter": self.filter,
            "sort": [list(s) for s in self.sort],
            "projection": list(self.projection),
            "stages": list(self.stages),
            "fields": dict(p.fields),
            "branches": [dict(b) for b in p.branches],
            "unsupported": list(p.unsupported),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Shape:
        def kinds(doc: dict[str, str]) -> dict[str, Kind]:
            return {k: Kind(v) for k, v in doc.items()}

        predicates = Predicates(
            kinds(data["fields"]),
            tuple(kinds(b) for b in data["branches"]),
            tuple(data["unsupported"]),
        )
        return cls(
            data["id"],
            data["ns"],
            Op(data["op"]),
            data["filter"],
            tuple((f, d) for f, d in data["sort"]),
            tuple(data["projection"]),
            tuple(data["stages"]),
            predicates,
        )

    def display(self) -> dict[str, Any]:
        """A JSON-ready view: filter plus sort/projection/stages when present."""
        out: dict[str, Any] = {"filter": self.filter}
        if self.sort:
            out["sort"] = dict(self.sort)
        if self.projection:
            out["projection"] = list(self.projection)
        if self.stages:
            out["pipeline"] = list(self.stages)
        return out


def _combine(kinds: list[Kind]) -> Kind:
    return min(kinds, key=_PRECEDENCE.index)


def _canon(value: Any) -> Any:
    """Placeholders for values, keys sorted, arrays kept: for operands we only display."""
    if isinstance(value, dict):
        wrapped = ejson_type(value)
        if wrapped is not None:
            return wrapped
        return {k: _canon(value[k]) for k in sorted(value)}
    if isinstance(value, list | tuple):
        return [_canon(v) for v in value]
    return placeholder(value)


def _element_types(value: Any) -> list[str]:
    items = value if isinstance(value, list | tuple) else [value]
    return sorted({placeholder_of(v) for v in items})


def placeholder_of(value: Any) -> str:
    """The placeholder of any value: documents and arrays collapse to one name."""
    if isinstance(value, dict):
        return ejson_type(value) or OBJECT
    if isinstance(value, list | tuple):
        return ARRAY
    return placeholder(value)


def _operand(op: str, value: Any) -> tuple[Any, Kind]:
    kind = FIELD_OPERATORS.get(op, Kind.UNSUPPORTED)
    if op in _LIST_OPERANDS:
        types = _element_types(value)
        if op == "$in" and REGEX in types:
            kind = Kind.RANGE
        return types, kind
    if op == "$elemMatch" and isinstance(value, dict):
        return normalize_filter(value)[0], kind
    if op == "$not":
        return _field_value(value)[0], Kind.RANGE
    return _canon(value), kind


def _field_value(value: Any) -> tuple[Any, Kind]:
    """Normalize the value of one field in a filter and classify the predicate."""
    if isinstance(value, dict):
        wrapped = ejson_type(value)
        if wrapped is not None:
            return wrapped, Kind.RANGE if wrapped == REGEX else Kind.EQUALITY
        if value and all(k.startswith("$") for k in value):
            norm: dict[str, Any] = {}
            kinds: list[Kind] = []
            for op in sorted(value):
                norm[op], kind = _operand(op, value[op])
                if op != "$options":
                    kinds.append(kind)
            return norm, _combine(kinds or [Kind.RANGE])
        return OBJECT, Kind.EQUALITY
    if isinstance(value, list | tuple):
        return ARRAY, Kind.EQUALITY
    name = placeholder(value)
    return name, Kind.RANGE if name == REGEX else Kind.EQUALITY


def _merge(into: dict[str, Kind], path: str, kind: Kind) -> None:
    into[path] = _combine([into[path], kind]) if path in into else kind


def normalize_filter(doc: dict[str, Any]) -> tuple[dict[str, Any], Predicates]:
    """The shape of a filter document and its classified predicates."""
    shape: dict[str, Any] = {}
    fields: dict[str, Kind] = {}
    branches: list[dict[str, Kind]] = []
    unsupported: list[str] = []
    or_groups = 0
    for key in sorted(doc):
        value = doc[key]
        if key in IGNORED_TOP:
            continue
        if key in ("$and", "$or") and isinstance(value, list | tuple):
            parts = [normalize_filter(v) for v in value if isinstance(v, dict)]
            shape[key] = sorted((p[0] for p in parts), key=_sort_key)
            if key == "$or":
                or_groups += 1
            for _, sub in parts:
                unsupported.extend(sub.unsupported)
                if key == "$and":
                    for path, kind in sub.fields.items():
                        _merge(fields, path, kind)
                    branches.extend(sub.branches)
                    or_groups += bool(sub.branches)
                else:
                    if sub.branches:
                        unsupported.append("nested $or")
                    branches.append(dict(sub.fields))
            continue
        if key.startswith("$"):
            shape[key] = _canon(value)
            unsupported.append(key)
            continue
        shape[key], kind = _field_value(value)
        if kind is Kind.UNSUPPORTED:
            ops = [op for op in value if FIELD_OPERATORS.get(op, Kind.UNSUPPORTED) is kind]
            unsupported.append(f"{key}: {', '.join(ops)}")
        _merge(fields, key, kind)
    if or_groups > 1:
        unsupported.append("several $or")
    return shape, Predicates(fields, tuple(branches), tuple(dict.fromkeys(unsupported)))


def _sort_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def normalize_sort(sort: dict[str, Any] | None) -> tuple[tuple[str, int | str], ...]:
    """Sort keys in their order with direction 1/-1 (``$meta`` sorts keep their name)."""
    if not sort:
        return ()
    out: list[tuple[str, int | str]] = []
    for path, direction in sort.items():
        if isinstance(direction, dict):
            wrapped = ejson_type(direction)
            if wrapped is None:
                out.append((path, "$meta"))
                continue
            direction = next(iter(direction.values()))
        try:
            out.append((path, -1 if float(direction) < 0 else 1))
        except (TypeError, ValueError):
            out.append((path, str(direction)))
    return tuple(out)


def shape_id(ns: str, op: str, body: list[Any]) -> str:
    """16 hex digits over namespace, operation and normalized body; stable across runs."""
    text = json.dumps([ns, op, *body], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


TRUNCATED = {"$truncated": "<str>"}


def shape_of(record: QueryRecord) -> Shape:
    """The shape of a record: filter, sort, projection keys and pipeline stage names."""
    predicates = Predicates()
    norm: dict[str, Any] | None = None
    if record.truncated:
        norm, predicates = dict(TRUNCATED), Predicates(unsupported=("command truncated in log",))
    elif record.filter is not None:
        norm, predicates = normalize_filter(record.filter)
    sort = normalize_sort(record.sort)
    projection = tuple(sorted(record.projection)) if record.projection else ()
    sid = shape_id(record.ns, record.op, [norm, [list(s) for s in sort], projection, record.stages])
    return Shape(sid, record.ns, record.op, norm, sort, projection, record.stages, predicates)


def redacted_sample(record: QueryRecord) -> dict[str, Any]:
    """One example of the operation with every value masked (keys and array sizes kept)."""
    out: dict[str, Any] = {"filter": mask(record.filter) if record.filter is not None else None}
    if record.sort:
        out["sort"] = record.sort
    if record.projection:
        out["projection"] = {
            k: v if isinstance(v, int) else mask(v) for k, v in record.projection.items()
        }
    if record.stages:
        out["pipeline"] = list(record.stages)
    return out
