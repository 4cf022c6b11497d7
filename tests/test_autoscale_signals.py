"""Pool signals read from a real Redis holding kombu-shaped messages and heartbeat hashes."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import kombu
import pytest
import redis

from scheduler.autoscale import samples
from scheduler.autoscale.samples import Sample
from scheduler.autoscale.signals import read_signals
from workers import keys
from workers.settings import Settings, load_settings

NOW = 1_714_989_600.0
QUEUE = "agent.cto.default"


def settings() -> Settings:
    return load_settings(redis_url="redis://unused")


def kombu_message(sent_at: float | None, priority: int = 0) -> str:
    """A message as kombu's Redis transport stores it (JSON, body base64)."""
    headers: dict[str, Any] = {"lang": "py", "task": "agents.run", "id": str(uuid.uuid4())}
    if sent_at is not None:
        headers["im_sent_at"] = sent_at
    return json.dumps(
        {
            "body": base64.b64encode(b'[["hello"], {}, {}]').decode(),
            "content-encoding": "utf-8",
            "content-type": "application/json",
            "headers": headers,
            "properties": {
                "correlation_id": headers["id"],
                "delivery_mode": 2,
                "delivery_info": {"exchange": "", "routing_key": QUEUE},
                "priority": priority,
                "body_encoding": "base64",
                "delivery_tag": str(uuid.uuid4()),
            },
        }
    )


def beat(
    client: redis.Redis,
    instance: str,
    *,
    updated_at: float = NOW - 1,
    score: float | None = None,
    **fields: Any,
) -> None:
    """Write a heartbeat the way a worker does: the hash plus the registry entry."""
    agent_type, pool, _ = keys.parse_instance(instance) or ("", "", 0)
    data = {
        "pid": 1234,
        "host": instance.split("@")[1],
        "agent_type": agent_type,
        "pool": pool,
        "queue": f"agent.{agent_type}.{pool}",
        "concurrency": 4,
        "active": 0,
        "processed": 0,
        "failed": 0,
        "cpu_percent": 10.0,
        "rss_bytes": 50_000_000,
        "mem_percent": 1.5,
        "ewma_latency_ms": 400.0,
        "state": "active",
        "started_at": NOW - 300,
        "updated_at": updated_at,
        **fields,
    }
    client.hset(keys.heartbeat(instance), mapping={k: str(v) for k, v in data.items()})
    client.zadd(keys.INSTANCES, {instance: updated_at if score is None else score})


def test_an_empty_pool_reads_as_empty(redis_client: redis.Redis) -> None:
    signals = read_signals(redis_client, "cto", "default", settings(), NOW)
    assert signals.queue_depth == 0
    assert signals.depth_by_priority == (0, 0, 0, 0)
    assert signals.oldest_age_s is None
    assert (signals.instances, signals.busy, signals.lost) == (0, 0, 0)
    assert signals.utilization is None
    assert signals.capacity_per_instance == 4  # from the pool's configured concurrency
    assert signals.stale_reason(NOW) is None


def test_depth_and_oldest_age_span_the_priority_lists(redis_client: redis.Redis) -> None:
    plain, _, six, _ = keys.priority_queue_keys(QUEUE)
    for sent in (NOW - 10, NOW - 5, NOW - 1):  # LPUSH: the oldest ends up at index -1
        redis_client.lpush(plain, kombu_message(sent))
    for sent in (NOW - 20, NOW - 2):
        redis_client.lpush(six, kombu_message(sent, priority=6))
    signals = read_signals(redis_client, "cto", "default", settings(), NOW)
    assert signals.depth_by_priority == (3, 0, 2, 0)
    assert signals.queue_depth == 5
    assert signals.oldest_age_s == 20.0
    assert signals.problems == ()


def test_messages_without_the_header_are_reported(redis_client: redis.Redis) -> None:
    redis_client.lpush(QUEUE, kombu_message(None))
    signals = read_signals(redis_client, "cto", "default", settings(), NOW)
    assert signals.queue_depth == 1
    assert signals.oldest_age_s is None
    assert signals.stale_reason(NOW) == "queued messages carry no sent-at header"


def test_oldest_message_as_published_by_kombu(redis_client: redis.Redis) -> None:
    """Publish through kombu itself, so the stored shape and order are the real ones."""
    url = redis_client.connection_pool.connection_kwargs
    conn_url = f"redis://:{url.get('password') or ''}@{url['host']}:{url['port']}/{url['db']}"
    queue = kombu.Queue(QUEUE, routing_key=QUEUE, max_priority=9)
    with kombu.Connection(conn_url) as conn:
        producer = conn.Producer()
        for i, sent in enumerate((NOW - 30, NOW - 12, NOW - 3)):
            producer.publish(
                {"n": i},
                routing_key=QUEUE,
                headers={"im_sent_at": sent},
                declare=[queue],
                priority=0 if i else 9,
            )
    signals = read_signals(redis_client, "cto", "default", settings(), NOW)
    assert signals.queue_depth == 3
    assert signals.depth_by_priority == (2, 0, 0, 1)
    assert signals.oldest_age_s == 30.0


def test_instances_from_heartbeats(redis_client: redis.Redis) -> None:
    beat(redis_client, "cto.default.1@host", active=4, cpu_percent=60, mem_percent=3)
    beat(redis_client, "cto.default.2@host", active=1, reserved=1, cpu_percent=20, mem_percent=1)
    beat(redis_client, "cto.default.3@host", active=0, cpu_percent=10, mem_percent=2)
    beat(redis_client, "cto.default.4@host", active=2, state="draining")
    beat(redis_client, "research.default.1@host", active=4)  # another pool
    beat(redis_client, "cto.default.5@host", updated_at=NOW - 600)  # long gone: ignored
    redis_client.zadd(keys.INSTANCES, {"cto.default.6@host": NOW - 8})  # stopped beating
    redis_client.zadd(keys.INSTANCES, {"flower@host": NOW})  # not an instance
    signals = read_signals(redis_client, "cto", "default", settings(), NOW)
    assert (signals.instances, signals.draining, signals.busy, signals.lost) == (3, 1, 2, 1)
    assert (signals.active, signals.reserved) == (5, 1)
    assert signals.capacity_per_instance == 4
    assert signals.utilization == 5 / 12
    assert signals.cpu_percent == 30.0
    assert signals.memory_percent == 2.0
    assert signals.heartbeat_age_s == 1.0
    assert signals.stale_reason(NOW) == "1 instance(s) stopped beating"


def test_an_expired_heartbeat_counts_as_lost(redis_client: redis.Redis) -> None:
    beat(redis_client, "cto.default.1@host", updated_at=NOW - 10)
    signals = read_signals(redis_client, "cto", "default", settings(), NOW)
    assert (signals.instances, signals.lost) == (0, 1)


def test_a_malformed_heartbeat_is_a_problem(redis_client: redis.Redis) -> None:
    beat(redis_client, "cto.default.1@host", active="many")
    signals = read_signals(redis_client, "cto", "default", settings(), NOW)
    assert signals.instances == 0
    assert "malformed" in (signals.stale_reason(NOW) or "")


def test_rates_and_trend_from_successive_samples(redis_client: redis.Redis) -> None:
    s = settings()
    instance = "cto.default.1@host"
    beat(redis_client, instance, updated_at=NOW - 1, active=2, processed=5)
    for _ in range(8):
        redis_client.lpush(QUEUE, kombu_message(NOW - 1))
    first = read_signals(redis_client, "cto", "default", s, NOW)
    assert first.arrival_rate is None and first.backlog_slope is None
    # Ten seconds later: 10 more done, 20 more arrived, backlog grew by 10.
    beat(redis_client, instance, updated_at=NOW + 9, active=2, processed=12, failed=3)
    for _ in range(10):
        redis_client.lpush(QUEUE, kombu_message(NOW + 5))
    # A new instance started in between contributes all it has done.
    beat(redis_client, "cto.default.2@host", updated_at=NOW + 9, started_at=NOW + 2, processed=0)
    second = read_signals(redis_client, "cto", "default", s, NOW + 10)
    assert second.completion_rate == 1.0
    assert second.arrival_rate == 2.0
    assert second.backlog_slope == 1.0
    assert len(samples.load(redis_client, "cto", "default")) == 2


def test_reading_without_recording_leaves_samples_alone(redis_client: redis.Redis) -> None:
    read_signals(redis_client, "cto", "default", settings(), NOW)
    read_signals(redis_client, "cto", "default", settings(), NOW + 5, record=False)
    assert redis_client.llen(keys.scale_samples("cto", "default")) == 1


def test_restarted_counters_are_not_negative() -> None:
    before = samples.Sample(NOW, 0, None, {"a@h": (50, NOW - 100)})
    after = {"a@h": (3, NOW - 2)}  # same name, restarted since
    assert samples.completions_since(before, after) == 3


def test_service_time_is_the_mean_run_time_of_healthy_instances(
    redis_client: redis.Redis,
) -> None:
    beat(redis_client, "cto.default.1@host", ewma_latency_ms=400.0, processed=30)
    beat(redis_client, "cto.default.2@host", ewma_latency_ms=800.0, processed=12)
    beat(redis_client, "cto.default.3@host", ewma_latency_ms=0.0)  # has not finished a task
    beat(redis_client, "cto.default.4@host", ewma_latency_ms=5000.0, state="draining")
    signals = read_signals(redis_client, "cto", "default", settings(), NOW)
    assert signals.service_time_s == 0.6


def test_a_fresh_instance_counts_by_the_tasks_it_finished(redis_client: redis.Redis) -> None:
    """Its first task carries the worker's warm-up; a warm instance outweighs it ten to one."""
    beat(redis_client, "cto.default.1@host", ewma_latency_ms=500.0, processed=40)
    beat(redis_client, "cto.default.2@host", ewma_latency_ms=6000.0, processed=1)
    signals = read_signals(redis_client, "cto", "default", settings(), NOW)
    assert signals.service_time_s == pytest.approx((10 * 0.5 + 1 * 6.0) / 11)


def test_service_time_is_averaged_over_the_recorded_readings(redis_client: redis.Redis) -> None:
    s = settings()
    beat(redis_client, "cto.default.1@host", updated_at=NOW - 1, ewma_latency_ms=300.0)
    read_signals(redis_client, "cto", "default", s, NOW)
    beat(redis_client, "cto.default.1@host", updated_at=NOW + 1, ewma_latency_ms=900.0)
    second = read_signals(redis_client, "cto", "default", s, NOW + 2)
    assert second.service_time_s == 0.6


def sample(t: float, backlog: int, done: int | None, service: float | None = None) -> Sample:
    return samples.Sample(t, backlog, done, {}, service)


def test_load_rates_look_back_the_load_window_only() -> None:
    """A burst that ended: the minute still averages it, the load window no longer does."""
    window = [sample(NOW - 60 + 2 * i, 40, 20) for i in range(20)]  # 10 tasks/s for 40 s
    window += [sample(NOW - 20 + 2 * i, 0, 1 if i else 0) for i in range(11)]  # 0.5/s after
    rates = samples.rates(window)
    assert rates.completion_rate == 0.5
    assert rates.arrival_rate == 0.5
    assert rates.last_arrival_rate == 0.5
    assert rates.last_completion_rate == 0.5
    assert rates.backlog_slope is not None and rates.backlog_slope < 0


def test_last_interval_rates_show_a_burst_first() -> None:
    window = [sample(NOW + 2 * i, 0, 1 if i else None) for i in range(6)]  # 0.5 tasks/s
    window.append(sample(NOW + 12, 9, 1))  # nine waiting and one done two seconds later
    rates = samples.rates(window)
    assert rates.last_arrival_rate == 5.0
    assert rates.last_completion_rate == 0.5
    assert rates.arrival_rate == pytest.approx((9 + 5) / 10)  # the newest ten seconds


def test_load_window_reaches_back_to_the_reading_that_spans_it() -> None:
    """Readings five seconds apart: the load window takes the one ten seconds back."""
    window = [sample(NOW, 0, None), sample(NOW + 5.5, 0, 3), sample(NOW + 10.5, 0, 2)]
    assert samples.recent(window, samples.LOAD_WINDOW_S) == window
    assert samples.rates(window).completion_rate == pytest.approx(5 / 10.5)


def test_service_time_without_enough_span_still_comes_from_the_reading() -> None:
    rates = samples.rates([sample(NOW, 0, None, 0.4)])
    assert rates.arrival_rate is None
    assert rates.service_time_s == 0.4


def test_samples_round_trip_with_and_without_a_service_time() -> None:
    for reading in (sample(NOW, 3, 2, 0.75), sample(NOW, 3, None)):
        assert samples.Sample.from_json(reading.to_json()) == reading
    legacy = '{"t": 1.0, "backlog": 2, "done": 1, "counters": {}}'
    assert samples.Sample.from_json(legacy).service_s is None


def test_service_time_is_exact_once_run_totals_grow(redis_client: redis.Redis) -> None:
    """Summed run time over summed completions: a warm-up task weighs what it took, not what
    a moving average remembers of it."""
    s = settings()
    beat(redis_client, "cto.default.1@host", processed=10, run_ms_total=5000.0,
         ewma_latency_ms=2000.0)  # fmt: skip
    beat(redis_client, "cto.default.2@host", processed=0, run_ms_total=0.0)
    read_signals(redis_client, "cto", "default", s, NOW)
    beat(redis_client, "cto.default.1@host", processed=14, run_ms_total=6600.0,
         updated_at=NOW + 4, ewma_latency_ms=2000.0)  # fmt: skip
    beat(redis_client, "cto.default.2@host", processed=2, run_ms_total=1400.0,
         updated_at=NOW + 4)  # fmt: skip
    second = read_signals(redis_client, "cto", "default", s, NOW + 5)
    assert second.service_time_s == pytest.approx((1600 + 1400) / (4 + 2) / 1000)


def test_too_few_finished_tasks_fall_back_to_the_moving_averages() -> None:
    before = Sample(NOW, 0, None, {"a@h": (10, NOW - 100)}, 0.5, {"a@h": 4000.0})
    counters = {"a@h": (11, NOW - 100)}
    ran = samples.run_since(before, counters, {"a@h": 4900.0})
    assert ran == (1, 900.0)
    after = Sample(NOW + 5, 0, 1, counters, 0.7, {"a@h": 4900.0}, ran)
    assert samples.rates([before, after]).service_time_s == pytest.approx(0.6)


def test_run_totals_of_a_restarted_or_new_instance_count_from_zero() -> None:
    before = Sample(NOW, 0, None, {"a@h": (50, NOW - 100)}, None, {"a@h": 90_000.0})
    counters = {"a@h": (3, NOW - 2), "b@h": (2, NOW + 1), "old@h": (9, NOW - 100)}
    totals = {"a@h": 600.0, "b@h": 500.0}  # old@h reports no totals: left out
    assert samples.run_since(before, counters, totals) == (5, 1100.0)
    assert samples.run_since(None, counters, totals) is None


def test_samples_round_trip_with_run_totals() -> None:
    reading = Sample(NOW, 3, 2, {"a@h": (5, NOW - 9)}, 0.5, {"a@h": 1234.5}, (2, 800.0))
    assert Sample.from_json(reading.to_json()) == reading
