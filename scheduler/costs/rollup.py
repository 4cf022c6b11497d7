"""Rollup math: task records -> integer metrics per bucket and dimension (pure, no I/O).

Buckets are UTC and start-inclusive: an event finished at exactly 14:00:00 belongs to the
14:00 hour. Money is summed as integer pico-dollars, so totals are exact decimals whatever
the order or batching of events.
"""

from __future__ import annotations

import functools
import hashlib
import time
from base64 import urlsafe_b64encode
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from workers.errors import InvalidInput
from workers.events import TaskEvent, TaskStatus
from workers.pricing import ModelPrice, cache_savings, usd_to_pico


class Period(StrEnum):
    HOUR = "hour"
    DAY = "day"
    MONTH = "month"


class Dim(StrEnum):
    AGENT = "agent"
    POOL = "pool"
    MODEL = "model"
    TENANT = "tenant"


#: Integer metrics of a bucket, in vector order. Money in pico-dollars, time in microseconds.
METRICS: tuple[str, ...] = (
    "requests", "succeeded", "failed", "unpriced", "cache_hits",
    "prompt_tokens", "completion_tokens", "cached_tokens",
    "llm_pico", "compute_pico", "savings_pico", "run_us", "wait_us",
)  # fmt: skip
M = {name: i for i, name in enumerate(METRICS)}
#: Key of the tenant dimension for events without a tenant tag (not a valid tenant name).
NO_TENANT = "(none)"
#: Digest bytes of a task id for deduplication: 96 bits make a collision among billions of
#: ids practically impossible while keeping each set member at 16 characters.
DIGEST_BYTES = 12

Row = tuple[Period, str, Dim, str]  # (period, bucket label, dimension, key)


@functools.lru_cache(maxsize=4096)
def labels_of_hour(hour_index: int) -> tuple[str, str, str]:
    """(hour, day, month) labels of the UTC hour ``hour_index`` (epoch seconds // 3600)."""
    t = time.gmtime(hour_index * 3600)
    return (
        f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}",
        f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}",
        f"{t.tm_year:04d}-{t.tm_mon:02d}",
    )


def label(period: Period, ts: float) -> str:
    """Label of the bucket containing ``ts`` (epoch seconds, UTC, start-inclusive)."""
    return labels_of_hour(int(ts // 3600))[list(Period).index(period)]


def bucket_start(period: Period, label_: str) -> datetime:
    """Start of a bucket as an aware UTC datetime."""
    formats = {Period.HOUR: "%Y-%m-%dT%H", Period.DAY: "%Y-%m-%d", Period.MONTH: "%Y-%m"}
    return datetime.strptime(label_, formats[period]).replace(tzinfo=UTC)


def digest(task_id: str) -> str:
    """Short, fixed-size stand-in of a task id for the deduplication sets."""
    raw = hashlib.blake2b(task_id.encode(), digest_size=DIGEST_BYTES).digest()
    return urlsafe_b64encode(raw).decode()


def _savings_pico(ev: TaskEvent, overrides: Mapping[str, ModelPrice] | None) -> int:
    if not ev.cache_hit and ev.cached_tokens == 0:
        return 0
    try:
        saved = cache_savings(
            ev.model, input_tokens=ev.prompt_tokens, output_tokens=ev.completion_tokens,
            cached_tokens=ev.cached_tokens, cache_hit=ev.cache_hit, provider=ev.provider,
            overrides=overrides,
        )  # fmt: skip
    except InvalidInput:  # inconsistent token counts: no savings claimed
        return 0
    return usd_to_pico(saved) if saved is not None else 0


def to_record(ev: TaskEvent, overrides: Mapping[str, ModelPrice] | None = None) -> dict[str, Any]:
    """The flat record of one event: what is archived and what every metric is computed from.

    Raises ``InvalidInput`` when a money field is not a decimal number >= 0.
    """
    try:
        llm = usd_to_pico(ev.llm_cost_usd) if ev.priced else 0
        compute = usd_to_pico(ev.compute_cost_usd)
    except InvalidInput:
        llm = compute = -1
    if llm < 0 or compute < 0:
        raise InvalidInput(
            f"task {ev.task_id}: cost is not a decimal number >= 0 "
            f"(llm={ev.llm_cost_usd!r}, compute={ev.compute_cost_usd!r})"
        )
    return {
        "_id": ev.task_id,
        "agent_type": ev.agent_type,
        "pool": ev.pool,
        "instance": ev.instance,
        "provider": ev.provider,
        "model": ev.model,
        "tenant": ev.tenant,
        "status": str(ev.status),
        "prompt_tokens": ev.prompt_tokens,
        "completion_tokens": ev.completion_tokens,
        "cached_tokens": ev.cached_tokens,
        "cache_hit": ev.cache_hit,
        "priced": ev.priced,
        "price_source": ev.price_source,
        "llm_pico": llm,
        "compute_pico": compute,
        "savings_pico": _savings_pico(ev, overrides),
        "queue_wait_ms": ev.queue_wait_ms,
        "run_ms": ev.run_ms,
        "error": ev.error,
        "finished_ts": ev.finished_at,
    }


def metrics_of(rec: Mapping[str, Any]) -> list[int]:
    """The metric vector of one record (see :data:`METRICS`)."""
    ok = rec["status"] == TaskStatus.SUCCEEDED
    return [
        1, int(ok), int(not ok), int(not rec["priced"]), int(bool(rec["cache_hit"])),
        int(rec["prompt_tokens"]), int(rec["completion_tokens"]), int(rec["cached_tokens"]),
        int(rec["llm_pico"]), int(rec["compute_pico"]), int(rec["savings_pico"]),
        round(float(rec["run_ms"]) * 1000), round(float(rec["queue_wait_ms"]) * 1000),
    ]  # fmt: skip


@dataclass
class Aggregator:
    """Sums records per (hour, agent, pool, model, tenant); expands to bucket rows on demand.

    Memory is bounded by the distinct combinations in one batch, not by the events.
    """

    def __post_init__(self) -> None:
        self._acc: dict[tuple[int, str, str, str, str], list[int]] = {}
        self.records = 0

    def add(self, rec: Mapping[str, Any]) -> None:
        combo = (
            int(float(rec["finished_ts"]) // 3600),
            rec["agent_type"], rec["pool"], rec["model"], rec["tenant"] or NO_TENANT,
        )  # fmt: skip
        vec = metrics_of(rec)
        acc = self._acc.get(combo)
        if acc is None:
            self._acc[combo] = vec
        else:
            for i, v in enumerate(vec):
                acc[i] += v
        self.records += 1

    def extend(self, recs: Iterable[Mapping[str, Any]]) -> Aggregator:
        for rec in recs:
            self.add(rec)
        return self

    def rows(self) -> dict[Row, list[int]]:
        """Totals per (period, label, dimension, key)."""
        out: dict[Row, list[int]] = {}
        for (hour, agent, pool, model, tenant), vec in self._acc.items():
            keys = {Dim.AGENT: agent, Dim.POOL: f"{agent}.{pool}", Dim.MODEL: model,
                    Dim.TENANT: tenant}  # fmt: skip
            for period, lab in zip(Period, labels_of_hour(hour), strict=True):
                for dim, key in keys.items():
                    row = (period, lab, dim, key)
                    acc = out.get(row)
                    if acc is None:
                        out[row] = list(vec)
                    else:
                        for i, v in enumerate(vec):
                            acc[i] += v
        return out


def sum_rows(rows: Iterable[Mapping[str, int]]) -> dict[str, int]:
    """Metric-wise sum of several rows given as name -> value mappings."""
    total = dict.fromkeys(METRICS, 0)
    for row in rows:
        for name in METRICS:
            total[name] += int(row.get(name, 0))
    return total


def pico_usd(value: int) -> Decimal:
    return Decimal(value).scaleb(-12)


def nonzero(vec: list[int]) -> Iterator[tuple[str, int]]:
    """(metric, value) pairs worth writing (zeros add nothing)."""
    return ((METRICS[i], v) for i, v in enumerate(vec) if v)
