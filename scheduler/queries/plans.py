"""Plan summaries (``"IXSCAN { a: 1, b: -1 }"``) and explain output, read into index keys.

An index key is a tuple of ``(field, direction)`` where direction is 1, -1 or a special index
type such as ``"hashed"`` or ``"2dsphere"``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

IndexKey = tuple[tuple[str, int | str], ...]

#: The ``_id`` index exists on every collection but views and time-series buckets.
ID_INDEX: IndexKey = (("_id", 1),)
#: Stages whose summary names an index: ``IXSCAN``, ``COUNT_SCAN``, ``DISTINCT_SCAN`` and the
#: ``EXPRESS_*`` stages of MongoDB 8.
_INDEX_STAGE = re.compile(r"\b([A-Z_]*(?:IXSCAN|COUNT_SCAN|DISTINCT_SCAN))\s*\{\s*([^}]*)\}")
_PAIR = re.compile(r"""\s*("(?:[^"\\]|\\.)*"|[^:,]+?)\s*:\s*("[^"]*"|[^,]+?)\s*(?:,|$)""")


def _direction(text: str) -> int | str:
    text = text.strip().strip('"')
    try:
        return -1 if float(text) < 0 else 1
    except ValueError:
        return text


def parse_plan_summary(summary: str | None) -> list[IndexKey]:
    """The index keys a plan summary names, in order; ``IDHACK`` names the ``_id`` index."""
    if not summary:
        return []
    keys: list[IndexKey] = []
    if "IDHACK" in summary or "EXPRESS_CLUSTERED" in summary:
        keys.append(ID_INDEX)
    for match in _INDEX_STAGE.finditer(summary):
        pairs = _PAIR.findall(match.group(2))
        key = tuple((name.strip('"'), _direction(value)) for name, value in pairs)
        if key and key not in keys:
            keys.append(key)
    return keys


def is_collscan(summary: str | None) -> bool:
    return bool(summary) and "COLLSCAN" in summary  # type: ignore[operator]


def winning_stages(explain: dict[str, Any]) -> list[dict[str, Any]]:
    """Every stage of the winning plan of an ``explain`` reply, depth first.

    Handles the classic layout, slot-based plans (``queryPlan``) and sharded replies
    (``shards``/``winningPlan`` per shard).
    """
    planner = explain.get("queryPlanner") or {}
    roots: list[Any] = []
    winning = planner.get("winningPlan")
    if isinstance(winning, dict):
        roots.append(winning.get("queryPlan", winning))
    for shard in (winning or {}).get("shards", ()) if isinstance(winning, dict) else ():
        plan = shard.get("winningPlan", {})
        roots.append(plan.get("queryPlan", plan))
    stages: list[dict[str, Any]] = []
    stack = list(roots)
    while stack:
        node = stack.pop()
        if not isinstance(node, dict):
            continue
        stages.append(node)
        for child_key in ("inputStage", "outerStage", "innerStage"):
            if isinstance(node.get(child_key), dict):
                stack.append(node[child_key])
        stack.extend(node.get("inputStages") or ())
    return stages


def explain_indexes(explain: dict[str, Any]) -> tuple[bool, list[IndexKey]]:
    """(uses a collection scan, index keys used) of an explain reply's winning plan."""
    collscan = False
    keys: list[IndexKey] = []
    for stage in winning_stages(explain):
        name = str(stage.get("stage", ""))
        if name == "COLLSCAN":
            collscan = True
        pattern = stage.get("keyPattern")
        if isinstance(pattern, dict):
            keys.append(tuple((k, _direction(str(v))) for k, v in pattern.items()))
        elif name == "IDHACK":
            keys.append(ID_INDEX)
    return collscan, keys


def index_keys_from_list(indexes: Iterable[dict[str, Any]]) -> list[IndexKey]:
    """Keys of ``listIndexes`` documents (``{"key": {...}, "name": ...}``)."""
    out: list[IndexKey] = []
    for index in indexes:
        key = index.get("key")
        if isinstance(key, dict) and key:
            out.append(tuple((k, _direction(str(v))) for k, v in key.items()))
    return out
