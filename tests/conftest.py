"""Shared fixtures: a real redis-server on a free port for the whole session.

Tests never use a shared Redis, an in-memory Redis imitation or Celery's eager mode.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from workers.redis_server import EmbeddedRedis


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"), persistent=False).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_url(redis_server: EmbeddedRedis) -> str:
    return redis_server.url


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    """A client on the session's server, database 1 flushed before each test.

    Database 0 belongs to the session-wide worker cluster; unit tests that only need Redis
    get their own clean database.
    """
    url = redis_url.rsplit("/", 1)[0] + "/1"
    client = redis.Redis.from_url(url, decode_responses=True)
    client.flushdb()
    yield client
    client.close()


def pytest_report_header(config: pytest.Config) -> str:
    mongo = os.environ.get("MONGO_URL")
    which = f"real MongoDB at MONGO_URL ({mongo.split('@')[-1]})" if mongo else "mongomock"
    return f"infra-mind: MongoDB tests run against {which}; shared data: {SHARED_DATA}"


SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
