"""Policy checks beyond the settings model, time-of-day minimums and runtime overrides."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import redis

from scheduler.autoscale.policy import (
    effective_policy,
    parse_pool,
    record_boot_time,
    scheduled_min,
    set_override,
    validate_policy,
)
from workers import keys
from workers.errors import ConfigError, UnknownAgent, UnknownName
from workers.settings import ScalingPolicy, Settings, load_settings


def at(hour: int, minute: int = 0) -> float:
    return datetime(2024, 5, 6, hour, minute, tzinfo=UTC).timestamp()


@pytest.fixture
def settings() -> Settings:
    return load_settings(redis_url="redis://unused")


def test_cooldown_shorter_than_the_boot_time_is_refused() -> None:
    policy = ScalingPolicy(cooldown_up_s=3)
    with pytest.raises(ConfigError, match=r"cooldown_up_s \(3 s\) is shorter .* boot time \(4.5"):
        validate_policy(policy, boot_time_s=4.5)
    assert validate_policy(policy, boot_time_s=2.0) is policy
    assert validate_policy(policy) is policy


@pytest.mark.parametrize(
    ("schedule", "words"),
    [
        ({"9-18": 2}, "not a time range"),
        ({"09:00-25:00": 2}, "not a time range"),
        ({"09:00-18:00": 9}, "greater than max"),
        ({"09:00-18:00": -1}, "negative"),
    ],
)
def test_bad_time_of_day_minimums_are_refused(schedule: dict[str, int], words: str) -> None:
    with pytest.raises(ConfigError, match=f"schedule_min.*{words}"):
        validate_policy(ScalingPolicy(max=4, schedule_min=schedule))


def test_time_of_day_minimums_in_utc_and_across_midnight() -> None:
    policy = ScalingPolicy(
        max=8, schedule_min={"09:00-18:00": 3, "22:00-06:00": 2, "12:00-13:00": 5}
    )
    assert scheduled_min(policy, at(8, 59)) == 0
    assert scheduled_min(policy, at(9)) == 3
    assert scheduled_min(policy, at(12, 30)) == 5
    assert scheduled_min(policy, at(18)) == 0
    assert scheduled_min(policy, at(23)) == 2
    assert scheduled_min(policy, at(5, 59)) == 2


def test_parse_pool_names_what_is_unknown(settings: Settings) -> None:
    assert parse_pool("cto.default", settings) == ("cto", "default")
    with pytest.raises(ConfigError, match=r"expected <type>\.<pool>"):
        parse_pool("cto", settings)
    with pytest.raises(UnknownAgent, match=r"known: .*cto"):
        parse_pool("nobody.default", settings)
    with pytest.raises(UnknownName, match=r"known: cto\.default"):
        parse_pool("cto.gpu", settings)


def test_overrides_merge_validate_and_persist(
    redis_client: redis.Redis, settings: Settings
) -> None:
    assert effective_policy(redis_client, settings, "cto", "default").max == 4
    set_override(redis_client, settings, "cto", "default", {"max": 6})
    set_override(redis_client, settings, "cto", "default", {"min": 2})
    policy = effective_policy(redis_client, settings, "cto", "default")
    assert (policy.min, policy.max) == (2, 6)
    assert effective_policy(redis_client, settings, "research", "default").max == 6


def test_an_invalid_override_writes_nothing(redis_client: redis.Redis, settings: Settings) -> None:
    with pytest.raises(ConfigError, match=r"min \(9\) is greater than max \(4\)"):
        set_override(redis_client, settings, "cto", "default", {"min": 9})
    with pytest.raises(ConfigError, match="target_utilization"):
        set_override(redis_client, settings, "cto", "default", {"target_utilization": 2})
    assert redis_client.get(keys.scale_policy_override("cto", "default")) is None


def test_measured_boot_time_guards_the_up_cooldown(
    redis_client: redis.Redis, settings: Settings
) -> None:
    for seconds in (7.0, 8.0, 9.0):
        record_boot_time(redis_client, "cto", "default", seconds)
    with pytest.raises(ConfigError, match=r"cooldown_up_s .* boot time \(8.0 s\)"):
        set_override(redis_client, settings, "cto", "default", {"cooldown_up_s": 5})
    policy = set_override(redis_client, settings, "cto", "default", {"cooldown_up_s": 8})
    assert policy.cooldown_up_s == 8


def test_a_stale_override_falls_back_to_the_settings(
    redis_client: redis.Redis, settings: Settings
) -> None:
    redis_client.set(keys.scale_policy_override("cto", "default"), '{"min": 99}')
    assert effective_policy(redis_client, settings, "cto", "default").min == 1
