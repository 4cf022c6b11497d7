"""Scaling policies: checks beyond the settings model, time-of-day minimums, runtime overrides.

A pool's effective policy is the one from settings with the fields set by ``scale set``
laid over it. Every change is validated before it is stored, so a stored override is valid
against the settings it was made with; if the settings change underneath and the merge no
longer validates, the settings' policy wins.
"""

from __future__ import annotations

import json
import logging
import statistics
from datetime import UTC, datetime
from typing import Any

import redis
from pydantic import ValidationError

from workers import keys
from workers.errors import ConfigError, UnknownName
from workers.settings import ScalingPolicy, Settings

log = logging.getLogger(__name__)

#: Boot times kept per pool; the median of the recent ones is "the measured boot time".
BOOT_SAMPLES = 20
#: Minutes in a day, for time-of-day ranges.
DAY_MINUTES = 24 * 60


def parse_pool(text: str, settings: Settings) -> tuple[str, str]:
    """``<type>.<pool>`` to a configured (type, pool); raises naming what is unknown."""
    agent_type, sep, pool = text.partition(".")
    if not sep:
        raise ConfigError(f"pool {text!r}: expected <type>.<pool>, e.g. cto.default")
    agent = settings.agent(agent_type)
    if pool not in agent.pools:
        known = ", ".join(f"{agent_type}.{p}" for p in agent.pools)
        raise UnknownName(f"unknown pool {text!r}; known: {known}")
    return agent_type, pool


def _minute(text: str) -> int:
    hours, sep, minutes = text.strip().partition(":")
    if not sep or not hours.isdigit() or not minutes.isdigit() or len(minutes) != 2:
        raise ValueError(text)
    value = int(hours) * 60 + int(minutes)
    if int(hours) > 24 or int(minutes) > 59 or value > DAY_MINUTES:
        raise ValueError(text)
    return value


def parse_range(text: str) -> tuple[int, int]:
    """``"HH:MM-HH:MM"`` to (start, end) minutes of the day; ranges may wrap past midnight."""
    start, sep, end = text.partition("-")
    try:
        if not sep:
            raise ValueError(text)
        return _minute(start), _minute(end)
    except ValueError:
        raise ConfigError(
            f'schedule_min: {text!r} is not a time range like "09:00-18:00" (UTC)'
        ) from None


def scheduled_min(policy: ScalingPolicy, now: float) -> int:
    """The highest time-of-day minimum in force at ``now`` (UTC), 0 when none applies."""
    moment = datetime.fromtimestamp(now, UTC)
    minute = moment.hour * 60 + moment.minute
    best = 0
    for text, count in policy.schedule_min.items():
        start, end = parse_range(text)
        inside = start <= minute < end if start <= end else (minute >= start or minute < end)
        if inside:
            best = max(best, count)
    return best


def validate_policy(policy: ScalingPolicy, *, boot_time_s: float | None = None) -> ScalingPolicy:
    """Checks the settings model cannot make; raises ``ConfigError`` naming the field.

    ``boot_time_s`` is the measured worker boot time when known: a scale-up cooldown shorter
    than it would order more capacity before the last order could show up.
    """
    if boot_time_s is not None and policy.cooldown_up_s < boot_time_s:
        raise ConfigError(
            f"cooldown_up_s ({policy.cooldown_up_s:g} s) is shorter than the measured worker "
            f"boot time ({boot_time_s:.1f} s)"
        )
    for text, count in policy.schedule_min.items():
        parse_range(text)
        if count < 0:
            raise ConfigError(f"schedule_min[{text!r}]: {count} is negative")
        if count > policy.max:
            raise ConfigError(f"schedule_min[{text!r}]: {count} is greater than max ({policy.max})")
    return policy


def merge(base: ScalingPolicy, changes: dict[str, Any]) -> ScalingPolicy:
    """``base`` with ``changes`` laid over it, validated by the model; errors name the field."""
    try:
        return ScalingPolicy.model_validate({**base.model_dump(), **changes})
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "policy"
        msg = str(err["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"{where}: {msg}") from None


def overrides(client: redis.Redis, agent_type: str, pool: str) -> dict[str, Any]:
    """Fields set at runtime for a pool (empty when none)."""
    text = client.get(keys.scale_policy_override(agent_type, pool))
    if not text:
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def effective_policy(
    client: redis.Redis, settings: Settings, agent_type: str, pool: str
) -> ScalingPolicy:
    """The settings' policy of a pool with its runtime overrides applied."""
    base = settings.agent(agent_type).policy(pool)
    changes = overrides(client, agent_type, pool)
    if not changes:
        return base
    try:
        return merge(base, changes)
    except ConfigError as exc:
        log.warning("ignoring runtime policy of %s.%s: %s", agent_type, pool, exc)
        return base


def set_override(
    client: redis.Redis,
    settings: Settings,
    agent_type: str,
    pool: str,
    changes: dict[str, Any],
    *,
    replace: bool = False,
) -> ScalingPolicy:
    """Validate and store runtime changes of a pool's policy; nothing is written on error.

    The changes add to earlier overrides, or with ``replace`` take their place.
    """
    base = settings.agent(agent_type).policy(pool)
    earlier = {} if replace else overrides(client, agent_type, pool)
    combined = {**earlier, **changes}
    policy = validate_policy(merge(base, combined), boot_time_s=boot_time(client, agent_type, pool))
    client.set(keys.scale_policy_override(agent_type, pool), json.dumps(combined, sort_keys=True))
    return policy


def clear_override(client: redis.Redis, agent_type: str, pool: str) -> None:
    client.delete(keys.scale_policy_override(agent_type, pool))


def record_boot_time(client: redis.Redis, agent_type: str, pool: str, seconds: float) -> None:
    """Remember how long a new instance took from spawn to its first heartbeat."""
    key = keys.scale_boot_times(agent_type, pool)
    pipe = client.pipeline(transaction=True)
    pipe.lpush(key, f"{seconds:.3f}")
    pipe.ltrim(key, 0, BOOT_SAMPLES - 1)
    pipe.execute()


def boot_time(client: redis.Redis, agent_type: str, pool: str) -> float | None:
    """Median of the recently measured boot times of a pool, None when none was measured."""
    values = [float(v) for v in client.lrange(keys.scale_boot_times(agent_type, pool), 0, -1)]
    return statistics.median(values) if values else None
