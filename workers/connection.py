"""Finding and connecting to the Redis the system runs on."""

from __future__ import annotations

from pathlib import Path

import redis

from workers.errors import BackendUnavailable
from workers.redis_server import redact
from workers.settings import Settings

#: File under the state folder where `up` records the URL of the Redis it started.
REDIS_URL_FILE = "redis.url"


def recorded_url(state_dir: Path) -> str | None:
    path = state_dir / REDIS_URL_FILE
    try:
        return path.read_text("utf-8").strip() or None
    except OSError:
        return None


def record_url(state_dir: Path, url: str) -> None:
    """Keep the embedded Redis URL (it holds the password) readable by the owner only."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / REDIS_URL_FILE
    path.touch(mode=0o600, exist_ok=True)
    path.write_text(url + "\n", "utf-8")


def forget_url(state_dir: Path) -> None:
    (state_dir / REDIS_URL_FILE).unlink(missing_ok=True)


def resolve_redis_url(settings: Settings) -> str | None:
    """``REDIS_URL`` always wins; else the URL a running `up` recorded in the state folder."""
    return settings.redis_url or recorded_url(settings.state_dir)


def connect(settings: Settings, *, decode: bool = True) -> redis.Redis:
    """A client on the system's Redis, checked with PING; fails with one clear line."""
    url = resolve_redis_url(settings)
    if url is None:
        raise BackendUnavailable(
            "no Redis: set REDIS_URL, or run `infra-mind up` in this folder first"
        )
    return ping(url, decode=decode)


def ping(url: str, *, decode: bool = True) -> redis.Redis:
    client = redis.Redis.from_url(
        url, decode_responses=decode, socket_connect_timeout=2, health_check_interval=30
    )
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        raise BackendUnavailable(f"Redis at {redact(url)} is unreachable: {exc}") from None
    return client
