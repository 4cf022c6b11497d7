"""Index advice: ESR order, suppression by existing indexes, prefix merging.

For each slow, wasteful shape the suggested key is its equality fields, then its sort fields in
their direction, then its range fields (the MongoDB ESR guideline). ``$in`` counts as equality
without a sort and as a range with one (a sort over several ``$in`` points needs a merge). No
suggestion is made when an index already serves the shape in that order: from ``listIndexes``
when connected, else from the index keys the plan summaries name. A suggestion whose shapes a
longer suggestion also serves is merged into it; keys stop at ``MAX_INDEX_FIELDS`` fields.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from scheduler.queries.plans import ID_INDEX, IndexKey, parse_plan_summary
from scheduler.queries.record import FILTERED_OPS, WRITE_OPS
from scheduler.queries.shapes import Kind, Shape
from scheduler.queries.stats import ShapeStats

#: Longest key suggested: MongoDB allows 32 fields, and a wider key costs more on every write
#: than the few extra predicates it would filter.
MAX_INDEX_FIELDS = 16
#: Docs examined per doc returned from which an index pays for its write cost.
MIN_EXAMINED_RATIO = 10.0
#: Databases holding server metadata, never advised on.
SYSTEM_DATABASES = frozenset({"admin", "local", "config"})


@dataclass(frozen=True, slots=True)
class Esr:
    """The fields of one filter (or ``$or`` branch) by role: equality, sort, range."""

    equality: frozenset[str]
    sort: tuple[tuple[str, int], ...]
    range: frozenset[str]

    def __bool__(self) -> bool:
        return bool(self.equality or self.sort or self.range)


def esr_of(fields: Mapping[str, Kind], sort: Sequence[tuple[str, int | str]]) -> Esr:
    """Split fields by role. A field with equality drops out of the sort; a field both ranged
    and sorted on is kept in the sort (the index order serves both)."""
    eq = {f for f, k in fields.items() if k is Kind.EQUALITY or (k is Kind.IN and not sort)}
    rng = {f for f, k in fields.items() if k is Kind.RANGE or (k is Kind.IN and sort)}
    sort_keys = tuple((f, d) for f, d in sort if f not in eq and isinstance(d, int))
    rng -= {f for f, _ in sort_keys}
    return Esr(frozenset(eq), sort_keys, frozenset(rng))


def shape_esrs(shape: Shape) -> list[Esr]:
    """One ESR per index the shape needs: one, or one per ``$or`` branch."""
    p = shape.predicates
    if not p.branches:
        return [esr_of(p.fields, shape.sort)]
    return [esr_of({**p.fields, **branch}, shape.sort) for branch in p.branches]


def serves(key: IndexKey, esr: Esr) -> bool:
    """Whether an index with ``key`` serves ``esr`` in ESR order (extra trailing fields are
    fine; the sort may run backwards as a whole; hashed fields serve equality only)."""
    n_eq, n_sort, n_rng = len(esr.equality), len(esr.sort), len(esr.range)
    if len(key) < n_eq + n_sort + n_rng:
        return False
    if {f for f, _ in key[:n_eq]} != esr.equality:
        return False
    part = key[n_eq : n_eq + n_sort]
    if [f for f, _ in part] != [f for f, _ in esr.sort]:
        return False
    if any(not isinstance(d, int) for _, d in part):
        return False
    same = [d == want for (_, d), (_, want) in zip(part, esr.sort, strict=True)]
    if same and not (all(same) or not any(same)):
        return False
    rng = key[n_eq + n_sort : n_eq + n_sort + n_rng]
    if {f for f, _ in rng} != esr.range:
        return False
    return all(isinstance(d, int) for _, d in rng)


def known_indexes(stats: Iterable[ShapeStats]) -> dict[str, list[IndexKey]]:
    """Indexes seen in plan summaries, per namespace, with the ``_id`` index."""
    found: dict[str, list[IndexKey]] = {}
    for s in stats:
        keys = found.setdefault(s.shape.ns, [ID_INDEX])
        for plan in s.plans:
            for key in parse_plan_summary(plan):
                if key not in keys:
                    keys.append(key)
    return found


def serving_index(esrs: Sequence[Esr], indexes: Sequence[IndexKey]) -> IndexKey | None:
    """The first index serving every ESR of a shape (all ``$or`` branches), if any."""
    needed = [e for e in esrs if e]
    if not needed:
        return None
    for key in indexes:
        if all(serves(key, e) for e in needed):
            return key
    return None


def key_name(key: IndexKey) -> str:
    """MongoDB's default index name: ``a_1_b_-1`` (``_id_`` for the ``_id`` index)."""
    if key == ID_INDEX:
        return "_id_"
    return "_".join(f"{f}_{d}" for f, d in key)


@dataclass(slots=True)
class Suggestion:
    """One index to create, the shapes it serves and what it should save."""

    ns: str
    key: IndexKey
    shapes: list[str]
    reasons: list[str]
    docs_examined: int = 0
    docs_examined_after: int | None = 0
    total_ms: float = 0.0
    replaces: list[IndexKey] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    write_cost: str = ""
    confirmed: bool | None = None
    esrs: list[Esr] = field(default_factory=list, repr=False)

    @property
    def command(self) -> str:
        db, _, coll = self.ns.partition(".")
        spec = json.dumps(dict(self.key))
        return (
            f"db.getSiblingDB({json.dumps(db)}).getCollection({json.dumps(coll)})"
            f".createIndex({spec})"
        )

    @property
    def reduction(self) -> float | None:
        """Expected share of docs examined saved (None when it cannot be estimated)."""
        if self.docs_examined_after is None or not self.docs_examined:
            return None
        return 1 - self.docs_examined_after / self.docs_examined

    def to_dict(self) -> dict[str, Any]:
        return {
            "ns": self.ns,
            "key": [[f, d] for f, d in self.key],
            "name": key_name(self.key),
            "shapes": self.shapes,
            "command": self.command,
            "reasons": self.reasons,
            "docs_examined": self.docs_examined,
            "docs_examined_after_estimate": self.docs_examined_after,
            "expected_docs_examined_reduction": self.reduction,
            "replaces": [key_name(k) for k in self.replaces],
            "write_cost": self.write_cost,
            "notes": self.notes,
            "confirmed_by_explain": self.confirmed,
        }


def _reasons(s: ShapeStats) -> list[str]:
    """Why a slow shape needs an index; empty when its plan already does little waste."""
    out = []
    if s.collscan_share:
        out.append(f"COLLSCAN in {s.collscan_share:.0%} of runs")
    ratio = s.docs_examined_per_returned
    if ratio is not None and ratio >= MIN_EXAMINED_RATIO:
        out.append(f"{ratio:,.0f} docs examined per doc returned")
    if s.in_memory_sort_share:
        out.append(f"in-memory sort in {s.in_memory_sort_share:.0%} of runs")
    if not out and not s.planned and not s.measured:
        out.append("slow, and no plan reported (listener sample): check with explain")
    return out


def _advisable(s: ShapeStats, threshold_ms: float) -> bool:
    db, _, coll = s.shape.ns.partition(".")
    if s.shape.op not in FILTERED_OPS or not coll or coll.startswith(("$cmd", "system.")):
        return False
    return db not in SYSTEM_DATABASES and (s.pct(95) or 0) > threshold_ms


def _order(esr: Esr, weight: Counter[str]) -> IndexKey:
    def ranked(names: Iterable[str]) -> list[str]:
        return sorted(names, key=lambda f: (-weight[f], f))

    key = [(f, 1) for f in ranked(esr.equality)] + list(esr.sort)
    key += [(f, 1) for f in ranked(esr.range)]
    return tuple(key[:MAX_INDEX_FIELDS])


def _write_cost(ns: str, key: IndexKey, stats: Sequence[ShapeStats]) -> str:
    in_ns = [s for s in stats if s.shape.ns == ns]
    writes = sum(s.count for s in in_ns if s.shape.op in WRITE_OPS)
    reads = sum(s.count for s in in_ns if s.shape.op not in WRITE_OPS)
    fields = ", ".join(f for f, _ in key)
    note = (
        f"every insert and delete on {ns} also writes this {len(key)}-field index, and "
        f"every update that changes {fields}; seen: {writes:,} writes, {reads:,} reads"
    )
    if writes > reads:
        note += " (write-heavy: weigh the saving against the extra write work)"
    return note


def _existing(
    ns: str,
    indexes: Mapping[str, Sequence[IndexKey]] | None,
    from_plans: Mapping[str, Sequence[IndexKey]],
) -> list[IndexKey]:
    listed = (indexes or {}).get(ns)
    return list(listed) if listed else list(from_plans.get(ns, [ID_INDEX]))


def advise(
    stats: Sequence[ShapeStats],
    threshold_ms: float,
    indexes: Mapping[str, Sequence[IndexKey]] | None = None,
) -> list[Suggestion]:
    """Suggestions for the slow shapes, best first (most docs examined saved, then time).

    ``indexes`` maps namespaces to their index keys (``listIndexes``); namespaces missing from
    it fall back to the keys named by plan summaries.
    """
    from_plans = known_indexes(stats)
    candidates: list[tuple[ShapeStats, Esr, list[str]]] = []
    weight: dict[str, Counter[str]] = {}
    for s in stats:
        if not _advisable(s, threshold_ms):
            continue
        reasons = _reasons(s)
        existing = _existing(s.shape.ns, indexes, from_plans)
        for esr in shape_esrs(s.shape):
            if not reasons or not esr or any(serves(k, esr) for k in existing):
                continue
            candidates.append((s, esr, reasons))
            w = weight.setdefault(s.shape.ns, Counter())
            w.update({f: s.count for f in (*esr.equality, *esr.range, *(f for f, _ in esr.sort))})
    ordered = [(s, e, _order(e, weight[s.shape.ns]), r) for s, e, r in candidates]
    ordered.sort(key=lambda c: (-len(c[2]), -c[0].docs_examined, -c[0].total_ms))
    kept: list[Suggestion] = []
    for s, esr, key, reasons in ordered:
        target = next((k for k in kept if k.ns == s.shape.ns and serves(k.key, esr)), None)
        if target is None:
            target = Suggestion(s.shape.ns, key, [], [])
            kept.append(target)
        _attach(target, s, esr, reasons)
    for sug in kept:
        existing = _existing(sug.ns, indexes, from_plans)
        sug.replaces = [
            k
            for k in existing
            if len(k) < len(sug.key) and sug.key[: len(k)] == k and k != ID_INDEX
        ]
        sug.write_cost = _write_cost(sug.ns, sug.key, stats)
    kept.sort(key=lambda g: (-(g.docs_examined - (g.docs_examined_after or 0)), -g.total_ms))
    return kept


def _attach(sug: Suggestion, s: ShapeStats, esr: Esr, reasons: list[str]) -> None:
    sug.esrs.append(esr)
    for reason in reasons:
        if reason not in sug.reasons:
            sug.reasons.append(reason)
    if s.shape.id in sug.shapes:
        return
    sug.shapes.append(s.shape.id)
    sug.docs_examined += s.docs_examined
    sug.total_ms += s.total_ms
    covered = len(esr.equality) + len(esr.sort) + len(esr.range) <= MAX_INDEX_FIELDS
    if s.shape.predicates.unsupported:
        sug.notes.append(
            f"shape {s.shape.id}: no index serves {', '.join(s.shape.predicates.unsupported)}"
        )
    if not covered:
        sug.notes.append(f"shape {s.shape.id}: key cut to {MAX_INDEX_FIELDS} fields")
    if sug.docs_examined_after is not None:
        exact = covered and not s.shape.predicates.unsupported and s.measured
        sug.docs_examined_after = sug.docs_examined_after + s.returned if exact else None
