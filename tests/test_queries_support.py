"""Builders of mongod log lines and profiler documents for the slow-query tests (no tests)."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.conftest import SHARED_DATA

SAMPLE_LOG = SHARED_DATA / "mongod-logs" / "sample-mongod.log.gz"
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def slow_entry(
    ns: str,
    command: dict[str, Any],
    ms: float,
    *,
    kind: str = "command",
    at: int = 0,
    **attr: Any,
) -> dict[str, Any]:
    """A "Slow query" log entry as mongod 7 writes it; ``attr`` adds planSummary etc."""
    when = (T0 + timedelta(seconds=at)).isoformat(timespec="milliseconds")
    return {
        "t": {"$date": when},
        "s": "I",
        "c": "COMMAND",
        "id": 51803,
        "ctx": "conn1",
        "msg": "Slow query",
        "attr": {
            "type": kind,
            "ns": ns,
            "appName": "shop",
            "command": command,
            **attr,
            "durationMillis": ms,
        },
    }


def other_entry(msg: str = "Connection accepted") -> dict[str, Any]:
    return {
        "t": {"$date": T0.isoformat()},
        "s": "I",
        "c": "NETWORK",
        "id": 22943,
        "ctx": "listener",
        "msg": msg,
        "attr": {},
    }


def write_log(path: Path, entries: list[dict[str, Any] | str], *, zipped: bool = False) -> Path:
    text = "".join((e if isinstance(e, str) else json.dumps(e)) + "\n" for e in entries)
    if zipped:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def orders_collscan(n: int, *, start: int = 0, ms: float = 400) -> list[dict[str, Any]]:
    """``n`` slow finds on shop.orders by status and a date range, sorted: a COLLSCAN."""
    return [
        slow_entry(
            "shop.orders",
            {
                "find": "orders",
                "filter": {"status": "open", "created": {"$gte": {"$date": "x"}}},
                "sort": {"total": -1},
                "$db": "shop",
            },
            ms + i,
            at=start + i,
            planSummary="COLLSCAN",
            keysExamined=0,
            docsExamined=50_000,
            nreturned=20,
            hasSortStage=True,
            queryHash="ABCD1234",
        )
        for i in range(n)
    ]


def profile_doc(
    ns: str, op: str, command: dict[str, Any], millis: int, **extra: Any
) -> dict[str, Any]:
    return {
        "op": op,
        "ns": ns,
        "command": command,
        "millis": millis,
        "ts": T0,
        "appName": "shop",
        **extra,
    }
