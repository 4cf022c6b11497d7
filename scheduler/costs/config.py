"""Tunables of the cost jobs, read once from settings (with named defaults for absent fields)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from workers.pricing import ModelPrice
from workers.settings import Settings

T = TypeVar("T")

#: Stream entries per read; large enough to amortize round trips, small enough that one
#: batch's totals and records stay a few megabytes.
ROLLUP_BATCH = 2000
#: An entry pending this long belongs to a dead run: a live run acks every batch in seconds.
CLAIM_IDLE_S = 60.0
#: Share of the rollup interval one run may take, so runs rarely overlap.
RUN_SHARE_OF_INTERVAL = 0.8
#: Days of spend the month-end projection extrapolates from.
RUN_RATE_DAYS = 7
#: Percent of a monthly budget at which an alert fires (each once per month).
BUDGET_THRESHOLDS = (50, 80, 100)
#: Below this busy ÷ provisioned share a pool is reported as idle capacity.
IDLE_EFFICIENCY = 0.3
#: Consumers of the rollup group idle this long with nothing pending are removed.
FORGET_CONSUMER_S = 86_400.0


@dataclass(frozen=True)
class CostConfig:
    batch: int = ROLLUP_BATCH
    claim_idle_ms: int = int(CLAIM_IDLE_S * 1000)
    max_run_s: float = 48.0
    run_rate_days: int = RUN_RATE_DAYS
    thresholds: tuple[int, ...] = BUDGET_THRESHOLDS
    webhook_url: str | None = None
    idle_efficiency: float = IDLE_EFFICIENCY
    price_overrides: Mapping[str, ModelPrice] = field(default_factory=dict)
    forget_consumer_ms: int = int(FORGET_CONSUMER_S * 1000)

    @classmethod
    def from_settings(cls, settings: Settings) -> CostConfig:
        """Settings fields win where they exist; absent ones keep the defaults above."""
        overrides = _field(settings, "price_overrides", {})
        return cls(
            batch=int(_field(settings, "rollup_batch", ROLLUP_BATCH)),
            claim_idle_ms=int(float(_field(settings, "rollup_claim_idle_s", CLAIM_IDLE_S)) * 1000),
            max_run_s=float(settings.rollup_interval_s) * RUN_SHARE_OF_INTERVAL,
            run_rate_days=int(_field(settings, "cost_run_rate_days", RUN_RATE_DAYS)),
            thresholds=tuple(sorted(_field(settings, "budget_thresholds", BUDGET_THRESHOLDS))),
            webhook_url=_field(settings, "budget_webhook_url", None),
            idle_efficiency=float(_field(settings, "idle_efficiency_threshold", IDLE_EFFICIENCY)),
            price_overrides={
                name: price if isinstance(price, ModelPrice) else ModelPrice.model_validate(price)
                for name, price in dict(overrides).items()
            },
        )


def _field(settings: Settings, name: str, default: T) -> T:
    """``settings.<name>`` when the settings declare it (and it is set), else ``default``."""
    value = getattr(settings, name, None)
    return default if value is None else value
