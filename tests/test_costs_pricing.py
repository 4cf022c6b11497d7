"""Pricing against hand-computed figures (list prices of the bundled price database)."""

from __future__ import annotations

from decimal import Decimal

import genai_prices
import pytest
from genai_prices import Usage

from workers.errors import InvalidInput
from workers.pricing import (
    DATABASE_SOURCE,
    ModelPrice,
    cache_savings,
    compute_cost,
    pico_to_usd,
    price_llm,
    usd_to_pico,
)


def test_gpt_4o_with_cached_tokens_by_hand() -> None:
    # gpt-4o: $2.50 input, $1.25 cache read, $10 output per MTok.
    # 800 uncached × 2.5 + 200 cached × 1.25 + 500 out × 10 = 7,250 µ$ → $0.00725
    price = price_llm("gpt-4o", input_tokens=1000, output_tokens=500, cached_tokens=200)
    assert price.cost_usd == Decimal("0.00725")
    assert price.priced is True
    assert price.source == DATABASE_SOURCE == f"genai-prices {genai_prices.__version__}"


def test_gpt_4o_mini_by_hand() -> None:
    # gpt-4o-mini: $0.15 input, $0.075 cache read, $0.60 output per MTok.
    # 8,000 × 0.15 + 2,000 × 0.075 + 1,000 × 0.6 = 1,200 + 150 + 600 = 1,950 µ$
    price = price_llm(
        "gpt-4o-mini", input_tokens=10_000, output_tokens=1_000, cached_tokens=2_000,
        provider="openai",
    )  # fmt: skip
    assert price.cost_usd == Decimal("0.00195")


def test_unknown_model_is_unpriced_not_zero() -> None:
    price = price_llm("no-such-model-7b", input_tokens=1000, output_tokens=10)
    assert price.cost_usd is None
    assert price.priced is False
    assert price.source == "unpriced"


def test_override_wins_and_cached_defaults_to_input_rate() -> None:
    overrides = {"house-model": ModelPrice(input_per_mtok=Decimal(1), output_per_mtok=Decimal(3))}
    # 1,000 in (all at $1 since no cached rate) + 100 out × 3 = 1,300 µ$
    price = price_llm(
        "house-model", input_tokens=1000, output_tokens=100, cached_tokens=400, overrides=overrides
    )
    assert (price.cost_usd, price.priced, price.source) == (Decimal("0.0013"), True, "override")


def test_foreign_provider_name_is_ignored() -> None:
    a = price_llm("gpt-4o", input_tokens=10, output_tokens=10, provider="simulated")
    b = price_llm("gpt-4o", input_tokens=10, output_tokens=10, provider="openai")
    assert a == b


@pytest.mark.parametrize("model", ["gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini"])
def test_matches_the_database_calculation(model: str) -> None:
    usage = Usage(input_tokens=12_345, output_tokens=678, cache_read_tokens=2_000)
    expected = genai_prices.calc_price(usage, model_ref=model).total_price
    got = price_llm(model, input_tokens=12_345, output_tokens=678, cached_tokens=2_000)
    assert got.cost_usd == expected


def test_tiered_prices_use_the_database() -> None:
    usage = Usage(input_tokens=200_000, output_tokens=500)
    expected = genai_prices.calc_price(usage, model_ref="gemini-1.5-pro").total_price
    got = price_llm("gemini-1.5-pro", input_tokens=200_000, output_tokens=500)
    assert got.cost_usd == expected


@pytest.mark.parametrize(
    ("inp", "out", "cached"), [(-1, 0, 0), (0, -1, 0), (10, 0, 11), (10, 0, -1)]
)
def test_bad_token_counts_are_refused(inp: int, out: int, cached: int) -> None:
    with pytest.raises(InvalidInput):
        price_llm("gpt-4o", input_tokens=inp, output_tokens=out, cached_tokens=cached)


def test_compute_cost_by_hand() -> None:
    assert compute_cost(90, Decimal("0.10")) == Decimal("0.0025")
    # 1.5 s × $0.10 / 3600 = 0.0000416666… → rounded to the pico-dollar
    assert compute_cost(1.5, Decimal("0.10")) == Decimal("0.000041666667")
    assert compute_cost(0, Decimal("0.10")) == 0
    with pytest.raises(InvalidInput):
        compute_cost(-1, Decimal("0.10"))
    with pytest.raises(InvalidInput):
        compute_cost(float("nan"), Decimal("0.10"))


def test_cache_savings() -> None:
    # prompt-cache discount: 200 cached tokens × (2.5 − 1.25) = 250 µ$
    saved = cache_savings("gpt-4o", input_tokens=1000, output_tokens=500, cached_tokens=200)
    assert saved == Decimal("0.00025")
    # a response-cache hit saves the whole call: 1000 × 2.5 + 500 × 10 = 7,500 µ$
    hit = cache_savings("gpt-4o", input_tokens=1000, output_tokens=500, cache_hit=True)
    assert hit == Decimal("0.0075")
    assert cache_savings("no-such-model-7b", input_tokens=1, output_tokens=1) is None


def test_pico_round_trip() -> None:
    assert usd_to_pico("0.00725") == 7_250_000_000
    assert pico_to_usd(7_250_000_000) == Decimal("0.00725")
