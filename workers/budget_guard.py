"""Monthly budgets on the task path: refuse work past a hard budget; reserve before a call.

Budgets exist per agent type (``AgentType.monthly_budget_usd`` / ``budget_mode``) and per
tenant (settings ``tenant_budgets``). Spend is counted per month and scope (``agent:<type>``,
``tenant:<name>``) in integer pico-dollars, as the larger of the calls settled here and the
events the cost rollup has counted (see :func:`usage`). A call first reserves its
estimated cost in one atomic Lua step that refuses when a hard budget would be overshot, so
parallel workers cannot overspend together; after the call :func:`reconcile` swaps the
reservation for the actual cost. A reservation whose worker died is released when it expires.
``soft`` budgets never refuse; they only alert (``scheduler.costs.budgets``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

import redis

from workers.errors import BudgetExceeded, InvalidInput
from workers.keys import (
    BUDGET_RESERVATIONS,
    BUDGET_RESERVED,
    budget_spent,
    rollup_field,
    rollup_hash,
)
from workers.names import validate_name
from workers.pricing import ModelPrice, compute_cost, pico_to_usd, price_llm, usd_to_pico
from workers.settings import AgentType, Settings

_HERE = Path(__file__).parent
_RESERVE = (_HERE / "budget_reserve.lua").read_text("utf-8")
_RECONCILE = (_HERE / "budget_reconcile.lua").read_text("utf-8")

#: Monthly spend stays readable for two months (this one and the last, for reports).
SPENT_TTL_S = 62 * 86_400
#: An expired reservation is remembered this long so a very late reconcile still counts.
FORGET_EXPIRED_S = 86_400
#: Reservations outlive the task time limit by this margin before they are released.
RESERVATION_MARGIN_S = 60


class BudgetMode(StrEnum):
    SOFT = "soft"
    HARD = "hard"


class Scope(StrEnum):
    AGENT = "agent"
    TENANT = "tenant"


@dataclass(frozen=True, slots=True)
class Budget:
    scope: Scope
    name: str
    limit_usd: Decimal
    mode: BudgetMode

    @property
    def id(self) -> str:
        return f"{self.scope}:{self.name}"


@dataclass(frozen=True, slots=True)
class Reservation:
    """Handle of a reserved call; pass it to :func:`reconcile` when the call is over."""

    id: str
    amount_pico: int
    scopes: tuple[str, ...]


def month_of(now: float) -> str:
    """UTC month label (``2025-05``) of epoch seconds ``now``."""
    return time.strftime("%Y-%m", time.gmtime(now))


def _tenant_budget(name: str, value: Any) -> Budget:
    get = value.get if isinstance(value, Mapping) else lambda k, d=None: getattr(value, k, d)
    return Budget(
        Scope.TENANT,
        validate_name("tenant", name),
        Decimal(str(get("monthly_budget_usd"))),
        BudgetMode(get("budget_mode", "soft")),
    )


def all_budgets(settings: Settings) -> list[Budget]:
    """Every configured budget: one per agent type, plus settings ``tenant_budgets``."""
    out = [
        Budget(Scope.AGENT, a.name, a.monthly_budget_usd, BudgetMode(a.budget_mode))
        for a in settings.agents.values()
    ]
    tenants = getattr(settings, "tenant_budgets", None) or {}
    out.extend(_tenant_budget(name, value) for name, value in sorted(tenants.items()))
    return out


def scopes_of(agent_type: str, tenant: str = "") -> tuple[str, ...]:
    """Spend scopes one task counts against."""
    scopes = [f"{Scope.AGENT}:{validate_name('agent type', agent_type)}"]
    if tenant:
        scopes.append(f"{Scope.TENANT}:{validate_name('tenant', tenant)}")
    return tuple(scopes)


def budgets_for(settings: Settings, agent_type: str, tenant: str = "") -> list[Budget]:
    wanted = set(scopes_of(agent_type, tenant))
    return [b for b in all_budgets(settings) if b.id in wanted]


def _rollup_source(scope: str, now: float) -> tuple[str, str]:
    """The monthly rollup hash and field prefix holding the rolled-up spend of ``scope``."""
    kind, _, name = scope.partition(":")
    return rollup_hash("month", month_of(now), kind), rollup_field(name, "")


def usage(client: redis.Redis, scopes: Sequence[str], now: float) -> dict[str, tuple[int, int]]:
    """scope -> (spent, reserved) pico-dollars this month.

    Spent is the larger of the calls settled through :func:`reconcile` / :func:`record_spend`
    and the events the cost rollup has counted: both measure the same money, and either may
    be ahead (the rollup runs every minute; a handler may not reconcile at all).
    """
    if not scopes:
        return {}
    with client.pipeline(transaction=False) as pipe:
        pipe.hmget(budget_spent(month_of(now)), list(scopes))
        pipe.hmget(BUDGET_RESERVED, list(scopes))
        for scope in scopes:
            key, prefix = _rollup_source(scope, now)
            pipe.hmget(key, [prefix + "llm_pico", prefix + "compute_pico"])
        settled, reserved, *rolled = pipe.execute()
    return {
        s: (max(int(st or 0), sum(int(v or 0) for v in ro)), int(rs or 0))
        for s, st, rs, ro in zip(scopes, settled, reserved, rolled, strict=True)
    }


def exhausted(spent_pico: int, reserved_pico: int, limit_usd: Decimal) -> bool:
    """A budget is used up once spend plus running reservations reach its limit."""
    return spent_pico + reserved_pico >= usd_to_pico(limit_usd)


def refusal(
    budget: Budget, spent_pico: int, reserved_pico: int, now: float, estimate_pico: int = 0
) -> str:
    """The one-line reason a hard budget refuses work."""
    used = pico_to_usd(spent_pico + reserved_pico)
    head = f"hard budget {budget.id} ({month_of(now)}): ${used:.2f} of ${budget.limit_usd:.2f}"
    if spent_pico + reserved_pico >= usd_to_pico(budget.limit_usd):
        state = "spent or reserved, the budget is used up"
    else:
        estimate = pico_to_usd(estimate_pico)
        state = f"spent or reserved, and this call's estimate ${estimate:.4f} would exceed it"
    return f"{head} {state}; raise monthly_budget_usd or wait for next month"


def has_hard_budget(settings: Settings, agent_type: str, tenant: str = "") -> bool:
    """Whether any hard budget applies (no Redis call: the submit path asks this first)."""
    return any(b.mode is BudgetMode.HARD for b in budgets_for(settings, agent_type, tenant))


def check_budget(
    client: redis.Redis,
    settings: Settings,
    agent_type: str,
    tenant: str = "",
    *,
    now: float | None = None,
) -> None:
    """Raise ``BudgetExceeded`` naming the budget when a hard budget of this task is used up."""
    now = time.time() if now is None else now
    hard = [b for b in budgets_for(settings, agent_type, tenant) if b.mode is BudgetMode.HARD]
    if not hard:
        return
    used = usage(client, [b.id for b in hard], now)
    for budget in hard:
        spent, reserved = used[budget.id]
        if exhausted(spent, reserved, budget.limit_usd):
            raise BudgetExceeded(refusal(budget, spent, reserved, now))


def hard_budget_block(
    client: redis.Redis, settings: Settings, agent_type: str, *, now: float | None = None
) -> str | None:
    """Why the autoscaler must not scale ``agent_type`` up (its hard budget), else None."""
    try:
        check_budget(client, settings, agent_type, now=now)
    except BudgetExceeded as exc:
        return str(exc)
    return None


def estimate_call_cost(
    agent: AgentType, prompt_tokens: int, overrides: Mapping[str, ModelPrice] | None = None
) -> Decimal | None:
    """Upper-bound estimate of one call: the prompt plus ``max_tokens`` of output, plus the
    compute time of a mean-latency call. None when the model is unpriced."""
    llm = price_llm(
        agent.model, input_tokens=prompt_tokens, output_tokens=agent.max_tokens,
        provider=agent.provider, overrides=overrides,
    ).cost_usd  # fmt: skip
    if llm is None:
        return None
    return llm + compute_cost(agent.latency.mean_ms / 1000, agent.hourly_rate_usd)


def reserve(
    client: redis.Redis,
    settings: Settings,
    agent_type: str,
    tenant: str,
    estimate_usd: Decimal | None,
    *,
    now: float | None = None,
    reservation_id: str | None = None,
) -> Reservation:
    """Reserve ``estimate_usd`` against the task's budgets, atomically.

    Raises ``BudgetExceeded`` naming the hard budget the reservation would overshoot; an
    unpriced call (``estimate_usd`` None) reserves nothing but is still refused by a used-up
    hard budget.
    """
    now = time.time() if now is None else now
    amount = usd_to_pico(estimate_usd) if estimate_usd is not None else 0
    if amount < 0:
        raise InvalidInput(f"cost estimate must be >= 0, got {estimate_usd}")
    scopes = scopes_of(agent_type, tenant)
    limits = {
        b.id: usd_to_pico(b.limit_usd)
        for b in budgets_for(settings, agent_type, tenant)
        if b.mode is BudgetMode.HARD
    }
    rid = reservation_id or uuid.uuid4().hex
    ttl_s = settings.task_time_limit_s + RESERVATION_MARGIN_S
    args: list[Any] = [
        int(now * 1000), rid, amount, int((now + ttl_s) * 1000), FORGET_EXPIRED_S * 1000,
        len(scopes),
    ]  # fmt: skip
    keys = [budget_spent(month_of(now)), BUDGET_RESERVED, BUDGET_RESERVATIONS]
    for scope in scopes:
        rollup_key, prefix = _rollup_source(scope, now)
        keys.append(rollup_key)
        args.extend((scope, limits.get(scope, -1), prefix))
    reply = client.register_script(_RESERVE)(keys=keys, args=args)
    if int(reply[0]) == 1:
        return Reservation(rid, amount, scopes)
    scope = reply[1].decode() if isinstance(reply[1], bytes) else str(reply[1])
    budget = next(b for b in budgets_for(settings, agent_type, tenant) if b.id == scope)
    raise BudgetExceeded(refusal(budget, int(reply[2]), int(reply[3]), now, amount))


def reconcile(
    client: redis.Redis,
    reservation: Reservation,
    actual_usd: Decimal | None,
    *,
    now: float | None = None,
) -> bool:
    """Replace the reservation by the actual cost (None: unpriced, counts nothing).

    Returns False when the reservation was already settled (a repeated call changes nothing).
    """
    now = time.time() if now is None else now
    actual = usd_to_pico(actual_usd) if actual_usd is not None and actual_usd > 0 else 0
    keys = [budget_spent(month_of(now)), BUDGET_RESERVED, BUDGET_RESERVATIONS]
    reply = client.register_script(_RECONCILE)(
        keys=keys, args=[reservation.id, actual, SPENT_TTL_S]
    )
    return int(reply) == 1


def record_spend(
    client: redis.Redis,
    agent_type: str,
    tenant: str,
    actual_usd: Decimal,
    *,
    now: float | None = None,
) -> None:
    """Count a cost that had no reservation (e.g. compute time billed after the task)."""
    now = time.time() if now is None else now
    amount = usd_to_pico(actual_usd)
    if amount <= 0:
        return
    key = budget_spent(month_of(now))
    with client.pipeline(transaction=True) as pipe:
        for scope in scopes_of(agent_type, tenant):
            pipe.hincrby(key, scope, amount)
        pipe.expire(key, SPENT_TTL_S)
        pipe.execute()
