"""`infra-mind doctor`: the checks as plain functions, and the command on a real Redis."""

from __future__ import annotations

import json

import pytest
import redis
from typer.testing import CliRunner

from workers import doctor
from workers.cli import app as cli
from workers.doctor import Level
from workers.inspect import PoolSnapshot
from workers.settings import load_settings


@pytest.mark.parametrize(
    ("version", "level"), [("7.2.4", Level.OK), ("6.2.0", Level.OK), ("6.0.16", Level.FAIL)]
)
def test_redis_version(version: str, level: Level) -> None:
    assert doctor.redis_version({"redis_version": version}).level is level


def test_an_evicting_redis_fails() -> None:
    assert doctor.redis_eviction(0, "allkeys-lru").level is Level.OK  # no limit: never evicts
    assert doctor.redis_eviction(2**30, "noeviction").level is Level.OK
    bad = doctor.redis_eviction(2**30, "allkeys-lru")
    assert bad.level is Level.FAIL and "may evict queued tasks" in bad.detail
    assert doctor.redis_eviction(2**30, None).level is Level.WARN


def test_persistence() -> None:
    assert doctor.redis_persistence({"aof_enabled": 1}, "").level is Level.OK
    assert "since the last one" in doctor.redis_persistence({}, "3600 1").detail
    assert "nothing on disk" in doctor.redis_persistence({}, "").detail


def test_pools_below_their_minimum_warn() -> None:
    settings = load_settings()
    snaps = [PoolSnapshot("cto", "default", "agent.cto.default")]
    assert doctor.pools(settings, snaps)[0].name == "workers"
    assert doctor.mongo(settings, lambda: None).detail == "not configured: Redis-only mode"

    def down() -> None:
        raise OSError("connection refused")

    with_mongo = load_settings(mongo_url="mongodb://127.0.0.1:1")
    assert doctor.mongo(with_mongo, down).level is Level.FAIL


def test_doctor_on_the_test_redis(redis_url: str, redis_client: redis.Redis) -> None:
    url = redis_url.rsplit("/", 1)[0] + "/1"
    result = CliRunner().invoke(cli, ["doctor", "--json"], env={"REDIS_URL": url})
    assert result.exit_code == 0, result.output
    checks = {c["check"]: c for c in json.loads(result.output)["checks"]}
    assert checks["redis version"]["level"] == "ok"
    assert checks["redis eviction"]["level"] == "ok"
    assert checks["redis persistence"]["level"] == "warn"  # the tests' Redis keeps nothing
    assert checks["prompt optimizer"]["detail"] == "pure Python"


def test_doctor_fails_on_an_evicting_redis(redis_url: str, redis_client: redis.Redis) -> None:
    url = redis_url.rsplit("/", 1)[0] + "/1"
    before = redis_client.config_get("maxmemory-policy")["maxmemory-policy"]
    limit = redis_client.config_get("maxmemory")["maxmemory"]
    redis_client.config_set("maxmemory", str(2**31))
    redis_client.config_set("maxmemory-policy", "allkeys-lru")
    try:
        result = CliRunner().invoke(cli, ["doctor"], env={"REDIS_URL": url, "COLUMNS": "200"})
    finally:
        redis_client.config_set("maxmemory-policy", before)
        redis_client.config_set("maxmemory", limit)
    assert result.exit_code == 1
    assert "may evict queued tasks" in result.output
