"""What a task cost: LLM tokens priced from the genai-prices database, plus compute time.

Money is ``Decimal`` everywhere and quantized to :data:`MONEY_QUANTUM` (one pico-dollar), which
is exact for every per-million-token price with up to six decimals; rollups then sum integers.
An unknown model is *unpriced* (``cost_usd is None``), never $0, so totals cannot silently
under-report.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

import genai_prices
from cachetools import TTLCache
from genai_prices import Usage
from genai_prices import types as gp_types
from genai_prices.data_snapshot import get_snapshot
from pydantic import BaseModel, ConfigDict, Field

from workers.errors import InvalidInput

#: Smallest money unit we keep: 1e-12 USD. A price of $0.0375 / MTok is 37.5 pico-dollars per
#: token, so every token count times every listed price stays exact.
MONEY_QUANTUM = Decimal("1e-12")
#: Integer units per dollar at that quantum (for Redis HINCRBY and MongoDB $inc on int64).
PICO_PER_USD = 10**12
#: Tokens per price unit of the database ("per million tokens").
TOKENS_PER_MTOK = Decimal(1_000_000)
SECONDS_PER_HOUR = Decimal(3600)
#: Price lookups are cached this long: the database is static per package version, but some
#: prices start or end on a date, so a long-running worker re-resolves now and then.
LOOKUP_TTL_S = 3600.0
#: Distinct (model, provider) pairs kept; far more than any deployment uses.
LOOKUP_CACHE_SIZE = 1024

#: Label of prices that came from the database, with its version (stored with every cost).
DATABASE_SOURCE = f"genai-prices {genai_prices.__version__}"
OVERRIDE_SOURCE = "override"
UNPRICED_SOURCE = "unpriced"


class ModelPrice(BaseModel):
    """A price override for one model, in USD per million tokens (settings: price overrides)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input_per_mtok: Decimal = Field(ge=0, description="uncached input tokens")
    output_per_mtok: Decimal = Field(ge=0)
    cached_input_per_mtok: Decimal | None = Field(
        None, ge=0, description="cache-read input tokens; unset: the input price"
    )


@dataclass(frozen=True, slots=True)
class LlmPrice:
    """The price of one LLM call. ``cost_usd`` is None when the model is unknown."""

    cost_usd: Decimal | None
    priced: bool
    source: str


@dataclass(frozen=True, slots=True)
class _Rates:
    """Resolved per-MTok rates of one (model, provider), or the database's tiered price."""

    input: Decimal
    output: Decimal
    cached: Decimal
    tiered: gp_types.ModelPrice | None = None


_lookup_cache: TTLCache[tuple[str, str | None], _Rates | None] = TTLCache(
    maxsize=LOOKUP_CACHE_SIZE, ttl=LOOKUP_TTL_S
)
_lookup_lock = threading.Lock()


def quantize_usd(value: Decimal) -> Decimal:
    """Round to :data:`MONEY_QUANTUM` (banker's rounding, so sums stay unbiased)."""
    return value.quantize(MONEY_QUANTUM, rounding=ROUND_HALF_EVEN)


def usd_to_pico(value: Decimal | str) -> int:
    """Integer pico-dollars of ``value`` (rounded to the quantum); InvalidInput if not a number."""
    if isinstance(value, str):  # fast path for plain "123.000456" strings (the event format)
        whole, _, frac = value.partition(".")
        if whole.isascii() and whole.isdigit() and len(frac) <= 12 and frac.isascii():
            if not frac:
                return int(whole) * PICO_PER_USD
            if frac.isdigit():
                return int(whole) * PICO_PER_USD + int(frac.ljust(12, "0"))
    try:
        amount = Decimal(value)
        if amount.is_finite():
            return int(quantize_usd(amount).scaleb(12))
    except ArithmeticError:
        pass
    raise InvalidInput(f"not a finite decimal amount of USD: {value!r}")


def pico_to_usd(value: int) -> Decimal:
    return Decimal(int(value)).scaleb(-12)


@functools.cache
def known_providers() -> frozenset[str]:
    """Provider ids the price database knows ("openai", "anthropic", ...)."""
    return frozenset(p.id for p in get_snapshot().providers)


def _database_rates(model: str, provider: str | None) -> _Rates | None:
    """Look the model up in genai-prices; None when the database has no match."""
    probe = Usage(input_tokens=0, output_tokens=0)
    try:
        found = genai_prices.calc_price(probe, model_ref=model, provider_id=provider)
    except LookupError:
        return None
    mp = found.model_price
    inp, out, cached = mp.input_mtok, mp.output_mtok, mp.cache_read_mtok
    plain = all(v is None or isinstance(v, Decimal) for v in (inp, out, cached))
    if not plain:
        return _Rates(Decimal(0), Decimal(0), Decimal(0), tiered=mp)
    inp = inp if isinstance(inp, Decimal) else Decimal(0)
    out = out if isinstance(out, Decimal) else Decimal(0)
    return _Rates(inp, out, cached if isinstance(cached, Decimal) else inp)


def _cached_rates(model: str, provider: str | None) -> _Rates | None:
    key = (model, provider)
    with _lookup_lock:
        if key in _lookup_cache:
            return _lookup_cache[key]
    rates = _database_rates(model, provider)
    with _lookup_lock:
        _lookup_cache[key] = rates
    return rates


def _validate_tokens(input_tokens: int, output_tokens: int, cached_tokens: int) -> None:
    if min(input_tokens, output_tokens, cached_tokens) < 0:
        raise InvalidInput(
            f"token counts must be >= 0 (input={input_tokens}, output={output_tokens}, "
            f"cached={cached_tokens})"
        )
    if cached_tokens > input_tokens:
        raise InvalidInput(
            f"cached tokens ({cached_tokens}) exceed input tokens ({input_tokens}); "
            "input tokens include cache reads"
        )


def _apply(rates: _Rates, input_tokens: int, output_tokens: int, cached_tokens: int) -> Decimal:
    if rates.tiered is not None:
        usage = Usage(
            input_tokens=input_tokens, output_tokens=output_tokens, cache_read_tokens=cached_tokens
        )
        return Decimal(rates.tiered.calc_price(usage)["total_price"])
    per_mtok = (
        (input_tokens - cached_tokens) * rates.input
        + cached_tokens * rates.cached
        + output_tokens * rates.output
    )
    return per_mtok / TOKENS_PER_MTOK


def _override_rates(price: ModelPrice) -> _Rates:
    cached = price.cached_input_per_mtok
    return _Rates(
        price.input_per_mtok,
        price.output_per_mtok,
        price.input_per_mtok if cached is None else cached,
    )


def _resolve(
    model: str, provider: str | None, overrides: Mapping[str, ModelPrice] | None
) -> tuple[_Rates | None, str]:
    if overrides and model in overrides:
        return _override_rates(overrides[model]), OVERRIDE_SOURCE
    provider_id = provider if provider in known_providers() else None
    rates = _cached_rates(model, provider_id)
    return rates, DATABASE_SOURCE if rates is not None else UNPRICED_SOURCE


def price_llm(
    model: str,
    *,
    input_tokens: int,
    output_tokens: int,
    cached_tokens: int = 0,
    provider: str | None = None,
    overrides: Mapping[str, ModelPrice] | None = None,
) -> LlmPrice:
    """Price one LLM call.

    ``input_tokens`` includes the ``cached_tokens`` that were read from the provider's prompt
    cache; those are priced at the model's cache-read rate. ``provider`` is a genai-prices
    provider id ("openai"); names the database does not know (e.g. "simulated") let the
    database pick the model's usual provider. An entry in ``overrides`` (keyed by model)
    wins over the database. Raises ``InvalidInput`` for negative or inconsistent counts.
    """
    _validate_tokens(input_tokens, output_tokens, cached_tokens)
    rates, source = _resolve(model, provider, overrides)
    if rates is None:
        return LlmPrice(cost_usd=None, priced=False, source=source)
    cost = _apply(rates, input_tokens, output_tokens, cached_tokens)
    return LlmPrice(cost_usd=quantize_usd(cost), priced=True, source=source)


def cache_savings(
    model: str,
    *,
    input_tokens: int,
    output_tokens: int,
    cached_tokens: int = 0,
    cache_hit: bool = False,
    provider: str | None = None,
    overrides: Mapping[str, ModelPrice] | None = None,
) -> Decimal | None:
    """USD saved by caching: the whole call on a response-cache hit, else the cache-read discount.

    None when the model is unpriced (savings unknown, not zero).
    """
    full = price_llm(
        model, input_tokens=input_tokens, output_tokens=output_tokens,
        provider=provider, overrides=overrides,
    )  # fmt: skip
    if full.cost_usd is None:
        return None
    if cache_hit:
        return full.cost_usd
    paid = price_llm(
        model, input_tokens=input_tokens, output_tokens=output_tokens,
        cached_tokens=cached_tokens, provider=provider, overrides=overrides,
    )  # fmt: skip
    assert paid.cost_usd is not None  # same model, same rates
    return full.cost_usd - paid.cost_usd


def compute_cost(seconds: float, hourly_rate_usd: Decimal) -> Decimal:
    """Compute cost of ``seconds`` of one instance at ``hourly_rate_usd``, quantized.

    Raises ``InvalidInput`` for negative or non-finite seconds or a negative rate.
    """
    if not (seconds >= 0 and seconds != float("inf")):
        raise InvalidInput(f"compute seconds must be a finite number >= 0, got {seconds!r}")
    rate = Decimal(hourly_rate_usd)
    if rate < 0:
        raise InvalidInput(f"hourly rate must be >= 0, got {hourly_rate_usd}")
    return quantize_usd(Decimal(repr(float(seconds))) * rate / SECONDS_PER_HOUR)


def clear_cache() -> None:
    """Forget resolved prices (after updating the price database in-process)."""
    with _lookup_lock:
        _lookup_cache.clear()
