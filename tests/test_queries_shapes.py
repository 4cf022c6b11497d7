"""Query shapes: masking, normalization, classification and stable hashes."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from bson import Int64, ObjectId, Regex

from scheduler.queries.record import Op, QueryRecord
from scheduler.queries.shapes import Kind, normalize_filter, normalize_sort, shape_of
from workers.querylistener import PLACEHOLDERS, mask, placeholder

E, IN, R, U = Kind.EQUALITY, Kind.IN, Kind.RANGE, Kind.UNSUPPORTED

CASES: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Kind]]] = [
    ("scalars", {"b": 1, "a": "x"}, {"a": "<str>", "b": "<number>"}, {"a": E, "b": E}),
    ("nested document", {"addr": {"city": "Oslo", "zip": 1}}, {"addr": "<object>"}, {"addr": E}),
    ("dotted path", {"addr.city": "Oslo"}, {"addr.city": "<str>"}, {"addr.city": E}),
    ("array value", {"tags": ["a", "b"]}, {"tags": "<array>"}, {"tags": E}),
    (
        "$in collapses",
        {"s": {"$in": [1, 2, "x", 3]}},
        {"s": {"$in": ["<number>", "<str>"]}},
        {"s": IN},
    ),
    (
        "$in with regex is a range",
        {"s": {"$in": [re.compile("a")]}},
        {"s": {"$in": ["<regex>"]}},
        {"s": R},
    ),
    (
        "range",
        {"age": {"$lt": 5, "$gte": 1}},
        {"age": {"$gte": "<number>", "$lt": "<number>"}},
        {"age": R},
    ),
    ("$ne is a range", {"s": {"$ne": None}}, {"s": {"$ne": "<null>"}}, {"s": R}),
    ("$nin is a range", {"s": {"$nin": [1]}}, {"s": {"$nin": ["<number>"]}}, {"s": R}),
    ("regex value", {"n": re.compile("^a")}, {"n": "<regex>"}, {"n": R}),
    (
        "$regex operator",
        {"n": {"$regex": "^a", "$options": "i"}},
        {"n": {"$options": "<str>", "$regex": "<str>"}},
        {"n": R},
    ),
    ("$eq", {"a": {"$eq": 3}}, {"a": {"$eq": "<number>"}}, {"a": E}),
    (
        "eq beats range on one field",
        {"$and": [{"a": 1}, {"a": {"$gt": 0}}]},
        {"$and": [{"a": "<number>"}, {"a": {"$gt": "<number>"}}]},
        {"a": E},
    ),
    (
        "$elemMatch unsupported",
        {"items": {"$elemMatch": {"sku": "x", "q": {"$gt": 1}}}},
        {"items": {"$elemMatch": {"q": {"$gt": "<number>"}, "sku": "<str>"}}},
        {"items": U},
    ),
    (
        "extended json values",
        {"_id": {"$oid": "65f2"}, "at": {"$date": "2024-01-01"}, "n": {"$numberLong": "5"}},
        {"_id": "<oid>", "at": "<date>", "n": "<number>"},
        {"_id": E, "at": E, "n": E},
    ),
    (
        "bson values",
        {"o": ObjectId(), "d": datetime(2024, 1, 1, tzinfo=UTC), "l": Int64(3), "r": Regex("x")},
        {"d": "<date>", "l": "<number>", "o": "<oid>", "r": "<regex>"},
        {"o": E, "d": E, "l": E, "r": R},
    ),
]


@pytest.mark.parametrize(("name", "doc", "shape", "fields"), CASES, ids=[c[0] for c in CASES])
def test_normalize_filter(
    name: str, doc: dict[str, Any], shape: dict[str, Any], fields: dict[str, Kind]
) -> None:
    got, predicates = normalize_filter(doc)
    assert got == shape
    assert predicates.fields == fields


def test_or_branches_are_kept_apart() -> None:
    shape, p = normalize_filter({"tenant": 7, "$or": [{"b": {"$gt": 1}}, {"a": "x"}]})
    assert shape == {"$or": [{"a": "<str>"}, {"b": {"$gt": "<number>"}}], "tenant": "<number>"}
    assert p.fields == {"tenant": E}
    assert p.branches == ({"a": E}, {"b": R}) or p.branches == ({"b": R}, {"a": E})
    assert p.unsupported == ()


@pytest.mark.parametrize(
    ("doc", "reason"),
    [
        ({"$where": "this.a > 1"}, "$where"),
        ({"$expr": {"$gt": ["$a", "$b"]}}, "$expr"),
        ({"$text": {"$search": "x"}}, "$text"),
        ({"$nor": [{"a": 1}]}, "$nor"),
        ({"loc": {"$near": [0, 0]}}, "loc: $near"),
        ({"$or": [{"$or": [{"a": 1}, {"b": 1}]}, {"c": 1}]}, "nested $or"),
        ({"$and": [{"$or": [{"a": 1}]}, {"$or": [{"b": 1}]}]}, "several $or"),
    ],
)
def test_unsupported_is_marked(doc: dict[str, Any], reason: str) -> None:
    assert reason in normalize_filter(doc)[1].unsupported


def test_key_order_and_values_do_not_change_the_hash() -> None:
    one = QueryRecord("db.c", Op.FIND, 1.0, filter={"a": 1, "b": {"$gt": 2}}, sort={"c": -1})
    two = QueryRecord("db.c", Op.FIND, 9.0, filter={"b": {"$gt": 900}, "a": 55}, sort={"c": -1})
    assert shape_of(one).id == shape_of(two).id
    other_sort = QueryRecord("db.c", Op.FIND, 1.0, filter={"a": 1, "b": {"$gt": 2}}, sort={"c": 1})
    other_ns = QueryRecord("db.d", Op.FIND, 1.0, filter={"a": 1, "b": {"$gt": 2}}, sort={"c": -1})
    other_op = QueryRecord("db.c", Op.COUNT, 1.0, filter={"a": 1, "b": {"$gt": 2}}, sort={"c": -1})
    ids = {shape_of(r).id for r in (one, other_sort, other_ns, other_op)}
    assert len(ids) == 4
    assert re.fullmatch(r"[0-9a-f]{16}", shape_of(one).id)


def test_hash_is_stable_across_versions() -> None:
    """The id is stored in Redis and MongoDB: changing it orphans every kept statistic."""
    record = QueryRecord("shop.orders", Op.FIND, 1.0, filter={"status": "open"})
    assert shape_of(record).id == shape_of(record).id
    assert shape_of(record).id == "75d9f49af7a949cd"


def test_masked_filters_keep_their_shape() -> None:
    doc = {
        "a": 1,
        "b": {"$in": [1, 2]},
        "c": {"$regularExpression": {"pattern": "x"}},
        "d": {"e": "secret"},
    }
    masked = mask(doc)
    assert "secret" not in repr(masked)
    assert normalize_filter(masked) == normalize_filter(doc)
    assert mask(masked) == masked


def test_placeholders_map_to_themselves() -> None:
    for name in PLACEHOLDERS:
        assert placeholder(name) == name
    assert placeholder("<str") == "<str>"


def test_sort_normalization() -> None:
    assert normalize_sort({"a": 1, "b": -1.0, "s": {"$meta": "textScore"}}) == (
        ("a", 1),
        ("b", -1),
        ("s", "$meta"),
    )
    assert normalize_sort({"a": {"$numberInt": "-1"}}) == (("a", -1),)
    assert normalize_sort(None) == ()


def test_shape_round_trips() -> None:
    from scheduler.queries.shapes import Shape

    shape = shape_of(
        QueryRecord(
            "db.c",
            Op.AGGREGATE,
            1.0,
            filter={"$or": [{"a": 1}]},
            sort={"b": -1},
            stages=("$match", "$sort", "$group"),
        )
    )
    assert Shape.from_dict(shape.to_dict()) == shape
