"""Checks of a deployment that would lose tasks or money before anything shows it.

Each check is a plain function over plain data (Redis ``INFO`` and ``CONFIG`` replies, pool
snapshots, settings) returning a :class:`Check`; :func:`run_checks` gathers the data. The
worst ones are Redis settings: a server that may evict keys drops queued tasks silently, and
one that keeps nothing on disk loses every queued task on restart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import redis

from workers.inspect import PoolSnapshot, pool_snapshots
from workers.settings import Settings

#: Oldest Redis the system runs on: the rollup's consumer group reclaims with XAUTOCLAIM.
MIN_REDIS = (6, 2)


class Level(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class Check:
    name: str
    level: Level
    detail: str


def redis_version(info: dict[str, Any]) -> Check:
    text = str(info.get("redis_version", "0"))
    parts = tuple(int(p) for p in text.split(".")[:2] if p.isdigit())
    if parts >= MIN_REDIS:
        return Check("redis version", Level.OK, text)
    need = ".".join(map(str, MIN_REDIS))
    return Check("redis version", Level.FAIL, f"{text}: infra-mind needs {need} or newer")


def redis_eviction(maxmemory: int, policy: str | None) -> Check:
    """Queues, results and budgets are plain keys: an evicting Redis drops them unseen."""
    if policy is None:
        return Check("redis eviction", Level.WARN, "cannot read maxmemory-policy (CONFIG denied)")
    if maxmemory == 0 or policy == "noeviction":
        return Check("redis eviction", Level.OK, f"maxmemory-policy {policy}: nothing is evicted")
    return Check(
        "redis eviction", Level.FAIL,
        f"maxmemory-policy {policy} with maxmemory {maxmemory}: Redis may evict queued tasks; "
        "set maxmemory-policy noeviction",
    )  # fmt: skip


def redis_persistence(info: dict[str, Any], save: str | None) -> Check:
    if int(info.get("aof_enabled", 0) or 0):
        return Check("redis persistence", Level.OK, "append-only file")
    if save:
        return Check(
            "redis persistence", Level.WARN,
            f"snapshots only (save {save}): a crash loses what was queued since the last one",
        )  # fmt: skip
    if save is None:
        return Check("redis persistence", Level.WARN, "cannot read the save setting")
    return Check(
        "redis persistence", Level.WARN,
        "nothing on disk: a restart loses every queued task; turn on appendonly",
    )  # fmt: skip


def pools(settings: Settings, snaps: list[PoolSnapshot]) -> list[Check]:
    if not any(s.instances for s in snaps):
        return [
            Check("workers", Level.WARN, "no instance is heartbeating: is `infra-mind up` running?")
        ]
    out = []
    for snap in snaps:
        minimum = settings.agent(snap.agent_type).policy(snap.pool).min
        name = f"pool {snap.agent_type}.{snap.pool}"
        if snap.healthy < minimum:
            detail = f"{snap.healthy} healthy of a minimum of {minimum}"
            out.append(Check(name, Level.WARN, detail))
        else:
            out.append(Check(name, Level.OK, f"{snap.healthy} healthy, {snap.depth} queued"))
    return out


def mongo(settings: Settings, ping: Callable[[], None]) -> Check:
    if not settings.mongo_url:
        return Check("mongodb", Level.OK, "not configured: Redis-only mode")
    try:
        ping()
    except Exception as exc:  # any driver error means the archive is not being written
        return Check("mongodb", Level.FAIL, f"unreachable: {type(exc).__name__}: {exc}"[:200])
    return Check("mongodb", Level.OK, "reachable")


def optimizer_build() -> Check:
    import workers.prompts.segments as module

    compiled = not str(module.__file__).endswith(".py")
    return Check("prompt optimizer", Level.OK, "compiled (mypyc)" if compiled else "pure Python")


def _config(client: redis.Redis, name: str) -> str | None:
    try:
        found = client.config_get(name)
    except redis.ResponseError:  # managed Redis often forbids CONFIG
        return None
    value = found.get(name)
    return None if value is None else str(value)


def _mongo_ping(settings: Settings) -> Callable[[], None]:
    def ping() -> None:
        from pymongo import MongoClient

        client: MongoClient[Any] = MongoClient(settings.mongo_url, serverSelectionTimeoutMS=2000)
        try:
            client.admin.command("ping")
        finally:
            client.close()

    return ping


def run_checks(client: redis.Redis, settings: Settings) -> list[Check]:
    """Every check, in the order an operator would fix them."""
    info = client.info()
    maxmemory = _config(client, "maxmemory")
    return [
        redis_version(info),
        redis_eviction(int(maxmemory or 0), _config(client, "maxmemory-policy")),
        redis_persistence(info, _config(client, "save")),
        mongo(settings, _mongo_ping(settings)),
        *pools(settings, pool_snapshots(client, settings)),
        optimizer_build(),
    ]
