"""Cost recommendations (pure): idle capacity, a cheaper model of the same family, cache
gains and budget risk. Each comes with the saving it would have made where that is known."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from scheduler.costs.budgets import BudgetStatus
from workers.budget_guard import BudgetMode
from workers.pricing import ModelPrice, price_llm, quantize_usd

#: The next cheaper model of the same family, for the models a deployment usually runs.
CHEAPER_IN_FAMILY = {
    "gpt-4o": "gpt-4o-mini",
    "gpt-4.1": "gpt-4.1-mini",
    "gpt-4.1-mini": "gpt-4.1-nano",
    "claude-3-5-sonnet": "claude-3-5-haiku",
    "gemini-1.5-pro": "gemini-1.5-flash",
}
#: Agent quality settings that rule out a cheaper model ("best": keep the configured one).
KEEP_MODEL_QUALITY = frozenset({"best"})
#: Provisioned time below which idle capacity is not worth a word (one instance-hour).
MIN_PROVISIONED_S = 3600.0
#: Prompt-cache share below which a gain is suggested, and the share assumed reachable.
LOW_PROMPT_CACHE_SHARE = 0.2
REACHABLE_PROMPT_CACHE_SHARE = 0.5
#: Prompt volume (tokens in the period) below which prompt caching is not worth the effort.
MIN_PROMPT_TOKENS = 1_000_000
#: Requests in the period above which an agent without a response cache gets a suggestion.
MIN_REQUESTS_FOR_CACHE = 100
#: Savings below a cent are not worth a recommendation.
MIN_SAVING_USD = Decimal("0.01")


def money(value: Decimal) -> str:
    """Dollars with cents, or with four decimals below a dollar (small deployments)."""
    return f"${value:,.2f}" if abs(value) >= 1 else f"${value:.4f}"


class Kind(StrEnum):
    IDLE_CAPACITY = "idle_capacity"
    CHEAPER_MODEL = "cheaper_model"
    CACHE = "cache"
    BUDGET_RISK = "budget_risk"


@dataclass(frozen=True)
class Recommendation:
    kind: Kind
    subject: str
    message: str
    savings_usd: Decimal | None = None


def idle_capacity(
    pool: str,
    busy_s: float,
    slot_s: float,
    instance_s: float,
    hourly_rate_usd: Decimal,
    threshold: float,
) -> Recommendation | None:
    """A pool whose task slots were busy less than ``threshold`` of the provisioned time."""
    if instance_s < MIN_PROVISIONED_S or slot_s <= 0:
        return None
    share = busy_s / slot_s
    if share >= threshold:
        return None
    idle_cost = quantize_usd(Decimal(repr(instance_s / 3600 * (1 - share))) * hourly_rate_usd)
    return Recommendation(
        Kind.IDLE_CAPACITY,
        pool,
        f"{pool}: task slots busy {share:.0%} of the provisioned time "
        f"({instance_s / 3600:.1f} instance-hours); lower min or allow scale_to_zero "
        f"(idle compute ~{money(idle_cost)})",
        idle_cost,
    )


def cheaper_model(
    agent: str,
    model: str,
    quality: str,
    row: Mapping[str, int],
    overrides: Mapping[str, ModelPrice] | None = None,
) -> Recommendation | None:
    """What the same tokens would have cost on the family's cheaper model."""
    alt = CHEAPER_IN_FAMILY.get(model)
    if alt is None or quality in KEEP_MODEL_QUALITY or not row.get("requests"):
        return None
    tokens = {
        "input_tokens": row.get("prompt_tokens", 0),
        "output_tokens": row.get("completion_tokens", 0),
        "cached_tokens": min(row.get("cached_tokens", 0), row.get("prompt_tokens", 0)),
    }
    now = price_llm(model, overrides=overrides, **tokens).cost_usd
    then = price_llm(alt, overrides=overrides, **tokens).cost_usd
    if now is None or then is None or now - then < MIN_SAVING_USD:
        return None
    return Recommendation(
        Kind.CHEAPER_MODEL,
        agent,
        f"{agent}: the same tokens on {alt} instead of {model} would cost {money(then)} instead "
        f"of {money(now)} ({(now - then) / now:.0%} less); switch if its answers are good enough",
        now - then,
    )


def cache_gains(
    agent: str,
    model: str,
    cache_responses: bool,
    row: Mapping[str, int],
    overrides: Mapping[str, ModelPrice] | None = None,
) -> list[Recommendation]:
    """A response cache left off, or a low share of prompt tokens served from the
    provider's prompt cache."""
    out = []
    requests = row.get("requests", 0)
    if not cache_responses and requests >= MIN_REQUESTS_FOR_CACHE:
        out.append(
            Recommendation(
                Kind.CACHE,
                agent,
                f"{agent}: response cache is off for {requests:,} requests; set "
                "cache_responses = true if repeated prompts may share an answer",
            )
        )
    prompt, cached = row.get("prompt_tokens", 0), row.get("cached_tokens", 0)
    if prompt < MIN_PROMPT_TOKENS:
        return out
    share = cached / prompt
    if share >= LOW_PROMPT_CACHE_SHARE:
        return out
    target = int(prompt * REACHABLE_PROMPT_CACHE_SHARE)
    now = price_llm(model, input_tokens=prompt, output_tokens=0, cached_tokens=min(cached, prompt),
                    overrides=overrides).cost_usd  # fmt: skip
    then = price_llm(model, input_tokens=prompt, output_tokens=0, cached_tokens=target,
                     overrides=overrides).cost_usd  # fmt: skip
    if now is None or then is None or now - then < MIN_SAVING_USD:
        return out
    saved = now - then
    out.append(
        Recommendation(
            Kind.CACHE,
            agent,
            f"{agent}: {share:.0%} of prompt tokens come from the provider's prompt cache; put "
            f"the fixed system prompt and examples first — at {REACHABLE_PROMPT_CACHE_SHARE:.0%} "
            f"the same prompts would cost {money(saved)} less",
            saved,
        )
    )
    return out


def budget_risk(status: BudgetStatus) -> Recommendation | None:
    """A month-end projection above the budget."""
    b = status.budget
    if b.limit_usd <= 0 or status.projected_usd <= b.limit_usd:
        return None
    share = status.projected_usd / b.limit_usd
    effect = (
        "new tasks will be refused once it is used up"
        if b.mode is BudgetMode.HARD
        else "raise it or cut usage"
    )
    return Recommendation(
        Kind.BUDGET_RISK, b.id,
        f"{b.id}: month-end projection {money(status.projected_usd)} exceeds the "
        f"{money(b.limit_usd)} budget ({share:.0%}); {effect}",
    )  # fmt: skip
