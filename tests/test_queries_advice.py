"""Index advice: ESR order, suppression by existing indexes, prefix merging, limits."""

from __future__ import annotations

from typing import Any

from scheduler.queries.advice import (
    MAX_INDEX_FIELDS,
    Esr,
    advise,
    esr_of,
    key_name,
    serves,
)
from scheduler.queries.analysis import analyze
from scheduler.queries.plans import explain_indexes, parse_plan_summary
from scheduler.queries.record import Op, QueryRecord
from scheduler.queries.shapes import Kind
from scheduler.queries.stats import ShapeStats, StatsTable

E, IN, R = Kind.EQUALITY, Kind.IN, Kind.RANGE


def _stats(
    *specs: tuple[dict[str, Any], dict[str, Any] | None],
    ns: str = "shop.orders",
    ms: float = 500,
    n: int = 5,
    plan: str = "COLLSCAN",
    op: Op = Op.FIND,
    examined: int = 10_000,
    returned: int = 10,
) -> list[ShapeStats]:
    table = StatsTable()
    for filt, sort in specs:
        for _ in range(n):
            table.add(
                QueryRecord(
                    ns,
                    op,
                    ms,
                    filter=filt,
                    sort=sort,
                    plan_summary=plan,
                    docs_examined=examined,
                    n_returned=returned,
                )
            )
    return list(table.shapes.values())


def test_esr_without_sort() -> None:
    esr = esr_of({"status": E, "tags": IN, "age": R}, ())
    assert esr == Esr(frozenset({"status", "tags"}), (), frozenset({"age"}))


def test_esr_with_sort_moves_in_to_range_and_drops_equal_sort_fields() -> None:
    esr = esr_of({"status": E, "tags": IN, "when": R}, (("status", 1), ("when", -1), ("x", 1)))
    assert esr.equality == {"status"}
    assert esr.sort == (("when", -1), ("x", 1))
    assert esr.range == {"tags"}


def test_suggestion_is_in_esr_order() -> None:
    stats = _stats(({"status": "open", "created": {"$gte": 1}, "cust": 7}, {"total": -1}))
    (sug,) = advise(stats, 100)
    assert sug.key == (("cust", 1), ("status", 1), ("total", -1), ("created", 1))
    assert sug.command == (
        'db.getSiblingDB("shop").getCollection("orders").createIndex('
        '{"cust": 1, "status": 1, "total": -1, "created": 1})'
    )
    assert "COLLSCAN in 100% of runs" in sug.reasons
    assert "1,000 docs examined per doc returned" in sug.reasons
    assert sug.docs_examined == 50_000 and sug.docs_examined_after == 50
    assert sug.reduction == 0.999
    assert "writes this 4-field index" in sug.write_cost


def test_suggestion_without_sort() -> None:
    (sug,) = advise(_stats(({"status": "open", "created": {"$gte": 1}}, None)), 100)
    assert sug.key == (("status", 1), ("created", 1))


def test_fast_or_efficient_shapes_get_no_advice() -> None:
    assert advise(_stats(({"a": 1}, None), ms=20), 100) == []
    assert (
        advise(_stats(({"a": 1}, None), plan="IXSCAN { b: 1 }", examined=12, returned=10), 100)
        == []
    )
    assert advise(_stats(({}, None)), 100) == []  # nothing to index
    assert advise(_stats(({"a": 1}, None), ns="admin.system.users"), 100) == []


def test_existing_index_from_list_indexes_suppresses() -> None:
    stats = _stats(({"status": "open", "created": {"$gte": 1}}, {"total": -1}))
    served = {"shop.orders": [(("_id", 1),), (("status", 1), ("total", 1), ("created", -1))]}
    assert advise(stats, 100, served) == []  # sort may run backwards, range order is free
    wrong_order = {"shop.orders": [(("status", 1), ("created", 1), ("total", -1))]}
    assert len(advise(stats, 100, wrong_order)) == 1


def test_existing_index_from_plan_summary_suppresses() -> None:
    # One shape's plan names an index that serves another, still-slow shape.
    table = StatsTable()
    for _ in range(3):
        table.add(
            QueryRecord(
                "shop.orders",
                Op.FIND,
                900,
                filter={"sku": "x", "qty": 1},
                plan_summary="IXSCAN { sku: 1, qty: 1 }",
                docs_examined=1,
                n_returned=1,
            )
        )
        table.add(
            QueryRecord(
                "shop.orders",
                Op.FIND,
                900,
                filter={"sku": "x"},
                plan_summary="COLLSCAN",
                docs_examined=5000,
                n_returned=1,
            )
        )
    assert advise(list(table.shapes.values()), 100) == []


def test_hashed_index_serves_equality_only() -> None:
    assert serves((("a", "hashed"),), Esr(frozenset({"a"}), (), frozenset()))
    assert not serves((("a", "hashed"),), Esr(frozenset(), (("a", 1),), frozenset()))


def test_mixed_sort_directions_must_match_or_invert_as_a_whole() -> None:
    esr = Esr(frozenset(), (("a", 1), ("b", -1)), frozenset())
    assert serves((("a", 1), ("b", -1)), esr)
    assert serves((("a", -1), ("b", 1)), esr)
    assert not serves((("a", 1), ("b", 1)), esr)


def test_prefixes_are_merged() -> None:
    stats = _stats(
        ({"status": "open"}, None),
        ({"status": "open", "cust": 3}, None),
        ({"status": "open", "cust": 3, "at": {"$lt": 5}}, None),
    )
    (sug,) = advise(stats, 100)
    assert sug.key == (("status", 1), ("cust", 1), ("at", 1))
    assert len(sug.shapes) == 3


def test_existing_prefix_index_is_reported_as_replaced() -> None:
    # Equal weights order equality fields by name: the key is cust, status.
    stats = _stats(({"status": "open", "cust": 3}, None), plan="IXSCAN { cust: 1 }")
    (sug,) = advise(stats, 100)
    assert sug.key == (("cust", 1), ("status", 1))
    assert sug.replaces == [(("cust", 1),)]
    assert sug.to_dict()["replaces"] == ["cust_1"]


def test_or_gets_one_index_per_branch() -> None:
    stats = _stats(({"tenant": 1, "$or": [{"a": 1}, {"b": {"$gt": 2}}]}, None))
    keys = sorted(s.key for s in advise(stats, 100))
    assert keys == [(("tenant", 1), ("a", 1)), (("tenant", 1), ("b", 1))]


def test_unsupported_predicates_are_noted() -> None:
    (sug,) = advise(_stats(({"a": 1, "$where": "this.b > 1"}, None)), 100)
    assert sug.key == (("a", 1),)
    assert sug.docs_examined_after is None and sug.reduction is None
    assert any("$where" in note for note in sug.notes)


def test_key_is_capped() -> None:
    filt = {f"f{i:02d}": i for i in range(20)}
    (sug,) = advise(_stats((filt, None)), 100)
    assert len(sug.key) == MAX_INDEX_FIELDS
    assert any("cut to 16" in note for note in sug.notes)


def test_write_heavy_collections_are_flagged() -> None:
    stats = _stats(({"a": 1}, None)) + _stats(({}, None), op=Op.INSERT, n=50)
    (sug,) = advise(stats, 100)
    assert "write-heavy" in sug.write_cost and "50 writes, 5 reads" in sug.write_cost


def test_analysis_ranks_slow_shapes_by_wasted_work() -> None:
    stats = (
        _stats(({"a": 1}, None), examined=100, returned=10)
        + _stats(({"b": 1}, None), examined=100_000, returned=10)
        + _stats(({"c": 1}, None), ms=5, examined=10**6)
    )
    report = analyze(stats, threshold_ms=100)
    order = [r["shape"]["filter"] for r in report.shapes]
    assert order == [{"b": "<number>"}, {"a": "<number>"}, {"c": "<number>"}]
    assert [r["slow"] for r in report.shapes] == [True, True, False]
    assert report.findings[0].endswith("create index b_1")


def test_plan_summary_parsing() -> None:
    assert parse_plan_summary('IXSCAN { a: 1, b.c: -1 }, IXSCAN { d: "hashed" }') == [
        (("a", 1), ("b.c", -1)),
        (("d", "hashed"),),
    ]
    assert parse_plan_summary("IDHACK") == [(("_id", 1),)]
    assert parse_plan_summary("COLLSCAN") == []
    assert key_name((("a", 1), ("b", -1))) == "a_1_b_-1"


def test_explain_reply_parsing() -> None:
    reply = {
        "queryPlanner": {
            "winningPlan": {
                "stage": "FETCH",
                "inputStage": {
                    "stage": "SORT_MERGE",
                    "inputStages": [
                        {"stage": "IXSCAN", "keyPattern": {"a": 1, "b": -1}},
                        {"stage": "IXSCAN", "keyPattern": {"c": 1}},
                    ],
                },
            }
        }
    }
    assert explain_indexes(reply) == (
        False,
        [(("c", 1),), (("a", 1), ("b", -1))],
    ) or explain_indexes(reply) == (False, [(("a", 1), ("b", -1)), (("c", 1),)])
    sbe = {"queryPlanner": {"winningPlan": {"queryPlan": {"stage": "COLLSCAN"}}}}
    assert explain_indexes(sbe) == (True, [])
