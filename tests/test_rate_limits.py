"""Provider rate limits: shared sliding-window buckets in real Redis, waits instead of 429s,
and the autoscaler refusing growth a full rate limit cannot use."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import redis

from scheduler.autoscale.job import RATE_LIMIT_FULL, rate_limit_check
from workers import keys
from workers.errors import ConfigError
from workers.providers import make_provider
from workers.providers.base import CompletionRequest
from workers.rate_limits import Buckets, LimitedProvider, RateLimited, RateLimiter
from workers.settings import AgentType, load_settings


def buckets(**limits: str) -> Buckets:
    found = Buckets.of(AgentType(name="cto", **limits))
    assert found is not None
    return found


def test_no_limits_no_buckets() -> None:
    assert Buckets.of(AgentType(name="cto")) is None


def test_calls_within_the_limit_do_not_wait(redis_client: redis.Redis) -> None:
    limiter = RateLimiter(redis_client)
    group = buckets(rate_limit="5/minute")
    waits = [limiter.take(group, 0, max_wait_s=0) for _ in range(5)]
    assert all(w < 0.05 for w in waits)
    assert limiter.used_share(group) == pytest.approx(1.0)


def test_a_full_bucket_waits_for_room_then_goes(redis_client: redis.Redis) -> None:
    limiter = RateLimiter(redis_client)
    group = buckets(rate_limit="3/second")
    for _ in range(3):
        assert limiter.try_take(group, 0) == 0.0
    assert limiter.try_take(group, 0) > 0
    started = time.monotonic()
    limiter.take(group, 0, max_wait_s=5)
    assert 0.05 < time.monotonic() - started < 2.5


def test_waiting_past_the_limit_fails_clearly(redis_client: redis.Redis) -> None:
    limiter = RateLimiter(redis_client)
    group = buckets(rate_limit="1/minute")
    limiter.take(group, 0, max_wait_s=0)
    started = time.monotonic()
    with pytest.raises(RateLimited, match=r"rate limit of cto still full after 0\.3 s"):
        limiter.take(group, 0, max_wait_s=0.3)
    assert time.monotonic() - started < 2


def test_tokens_count_against_their_own_bucket(redis_client: redis.Redis) -> None:
    limiter = RateLimiter(redis_client)
    group = buckets(token_rate_limit="1000/minute")
    assert limiter.try_take(group, 600) == 0.0
    assert limiter.try_take(group, 600) > 0  # 1,200 would overshoot
    assert limiter.try_take(group, 400) == 0.0
    with pytest.raises(RateLimited, match="can never fit"):
        limiter.try_take(group, 1001)


def test_workers_share_one_bucket(redis_client: redis.Redis) -> None:
    """Four limiters (four worker processes' worth) on one group never exceed its limit."""
    group = buckets(rate_limit="20/minute")
    granted: list[int] = []

    def worker() -> None:
        limiter = RateLimiter(redis_client)
        granted.append(sum(1 for _ in range(10) if limiter.try_take(group, 0) == 0.0))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(granted) == 20


def test_agent_types_naming_one_group_share_it(redis_client: redis.Redis) -> None:
    limiter = RateLimiter(redis_client)
    a = Buckets.of(AgentType(name="cto", rate_limit="2/minute", rate_limit_group="gpt4o"))
    b = Buckets.of(AgentType(name="research", rate_limit="2/minute", rate_limit_group="gpt4o"))
    assert a is not None and b is not None
    assert limiter.try_take(a, 0) == 0.0 and limiter.try_take(b, 0) == 0.0
    assert limiter.try_take(a, 0) > 0


def test_the_provider_wrapper_paces_real_calls(redis_client: redis.Redis) -> None:
    settings = load_settings()
    provider = LimitedProvider(
        make_provider("simulated", settings), RateLimiter(redis_client),
        buckets(rate_limit="4/second", token_rate_limit="100000/minute"), max_wait_s=10,
    )  # fmt: skip
    request = CompletionRequest(model="gpt-4o-mini", prompt="hello", max_tokens=16,
                                latency_mean_ms=1, latency_spread_ms=0)  # fmt: skip
    started = time.monotonic()
    replies = [provider.complete(request) for _ in range(6)]
    assert all(r.text for r in replies)
    assert time.monotonic() - started > 0.2  # the 5th and 6th call waited for room
    assert provider.name == "simulated"


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"rate_limit": "lots"}, "agents.cto.rate_limit"),
        ({"token_rate_limit": "5 per fortnight"}, "agents.cto.token_rate_limit"),
        ({"rate_limit_group": "GPT 4o"}, "rate limit group"),
    ],
)
def test_bad_limits_are_refused_at_load(fields: dict, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        load_settings(agents={"cto": {"name": "cto", **fields}})


def test_a_full_rate_limit_refuses_growth(redis_client: redis.Redis) -> None:
    settings = load_settings(
        agents={"cto": {"name": "cto", "rate_limit": "10/minute"}, "mlops": {"name": "mlops"}}
    )
    check = rate_limit_check(redis_client, settings)
    assert check("cto") == "" and check("mlops") == ""
    limiter = RateLimiter(redis_client)
    group = Buckets.of(settings.agent("cto"))
    assert group is not None
    for _ in range(int(10 * RATE_LIMIT_FULL) + 1):
        limiter.take(group, 0, max_wait_s=0)
    assert check("cto") == "rate limit of cto is 100% used"


def test_workers_wrap_limited_agent_types_only(redis_client: redis.Redis) -> None:
    from workers.runtime import WorkerRuntime

    settings = load_settings(
        agents={"cto": {"name": "cto", "rate_limit": "10/minute"}, "mlops": {"name": "mlops"}}
    )
    runtime = WorkerRuntime(settings, "cto.default.1@test", redis_client)
    try:
        assert isinstance(runtime.context("cto", "default").provider, LimitedProvider)
        assert not isinstance(runtime.context("mlops", "default").provider, LimitedProvider)
    finally:
        runtime.close()


def _app_on_db1(redis_url: str, **overrides: object):  # type: ignore[no-untyped-def]
    from workers.app import create_app

    url = redis_url.rsplit("/", 1)[0] + "/1"
    return create_app(load_settings(redis_url=url, **overrides))


def test_tenants_submit_within_their_own_limits(redis_url: str, redis_client: redis.Redis) -> None:
    from workers.errors import RateLimitExceeded
    from workers.inspect import queue_state
    from workers.submit import submit, submit_many

    app = _app_on_db1(redis_url, tenant_rate_limits={"acme": "3/minute", "*": "2/minute"})
    try:
        for _ in range(3):
            submit("cto", "p", app=app, tenant="acme")
        with pytest.raises(RateLimitExceeded, match="tenant acme is over") as info:
            submit("cto", "p", app=app, tenant="acme")
        assert 0 < info.value.retry_after_s <= 60 and info.value.exit_code == 5
        submit("cto", "p", app=app, tenant="beta")  # "*": beta has a bucket of its own
        submit("cto", "p", app=app)  # and so do untagged tasks
        with pytest.raises(RateLimitExceeded, match="tenant beta"):
            submit_many([{"agent_type": "cto", "prompt": "p", "tenant": "beta"}] * 2, app=app)
        with pytest.raises(RateLimitExceeded, match="can never fit"):
            submit_many([{"agent_type": "cto", "prompt": "p", "tenant": "gamma"}] * 3, app=app)
        assert queue_state(redis_client, "agent.cto.default")[0] == 5
    finally:
        app.close()


def test_no_tenant_limits_no_redis_calls(redis_url: str, redis_client: redis.Redis) -> None:
    from workers.submit import submit

    app = _app_on_db1(redis_url)
    try:
        submit("cto", "p", app=app, tenant="acme")
        assert not redis_client.keys(f"{keys.RATE_LIMIT_PREFIX}*")
    finally:
        app.close()


@pytest.mark.parametrize(
    ("limits", "needle"),
    [({"Acme Corp": "1/minute"}, "invalid tenant name"), ({"acme": "soon"}, "acme: 'soon'")],
)
def test_bad_tenant_limits_are_refused_at_load(limits: dict, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        load_settings(tenant_rate_limits=limits)


def test_status_shows_rate_limit_use(
    redis_url: str, redis_client: redis.Redis, tmp_path: Path
) -> None:
    import json

    from typer.testing import CliRunner

    from workers.cli import app as cli

    agents = tmp_path / "agents.toml"
    agents.write_text('[agents.cto]\nrate_limit = "4/minute"\n\n[agents.mlops]\n')
    url = redis_url.rsplit("/", 1)[0] + "/1"
    limiter = RateLimiter(redis_client)
    group = Buckets.of(load_settings(agents_file=agents).agent("cto"))
    assert group is not None
    limiter.take(group, 0, max_wait_s=0)
    env = {"REDIS_URL": url, "INFRA_MIND_AGENTS_FILE": str(agents)}
    result = CliRunner().invoke(cli, ["status", "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["rate_limits"] == [{"group": "cto", "used": 0.25}]
