"""The MongoDB archive: one client factory, retries on transient errors, idempotent bulk writes.

MongoDB is optional. Without ``MONGO_URL`` :func:`mongo_database` returns None and the caller
runs in Redis-only mode (logged once per process). Nothing here runs on a task's hot path:
scheduler jobs call it in bulk.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import redis
from pymongo import MongoClient, UpdateOne
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import BulkWriteError, ConnectionFailure, DuplicateKeyError, PyMongoError
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from workers.errors import BackendUnavailable
from workers.settings import Settings
from workers.stores.indexes import Retention, ensure_indexes

__all__ = [
    "MongoPool",
    "Retention",
    "Upsert",
    "ensure_indexes",
    "insert_new",
    "mongo_client",
    "mongo_database",
    "upsert_each",
    "with_retry",
]

log = logging.getLogger(__name__)
T = TypeVar("T")

#: MongoDB's duplicate-key error: the document (or upsert target) already exists.
DUPLICATE_KEY = 11000
#: Attempts of one operation on a transient error; three rides out an election or a blip.
RETRY_ATTEMPTS = 3
#: First and longest wait between attempts (exponential in between).
RETRY_WAIT_MIN_S = 0.2
RETRY_WAIT_MAX_S = 2.0


@dataclass(frozen=True)
class MongoPool:
    """Client pool settings. Defaults suit a few scheduler jobs and an API per process."""

    max_pool_size: int = 50  # connections per server; bulk jobs need few, the API bursts
    min_pool_size: int = 5  # kept warm so a job's first write does not pay a handshake
    server_selection_timeout_ms: int = 5_000  # a down server is reported in 5 s, not 30
    connect_timeout_ms: int = 5_000
    socket_timeout_ms: int = 30_000  # a bulk write of thousands of documents fits easily
    max_idle_time_ms: int = 60_000  # idle connections are recycled within a minute
    wait_queue_timeout_ms: int = 5_000  # a saturated pool fails fast instead of hanging


def mongo_client(url: str, pool: MongoPool | None = None, **options: Any) -> MongoClient:
    """A new client with our pool settings; ``options`` go to ``MongoClient`` unchanged."""
    p = pool or MongoPool()
    return MongoClient(
        url,
        maxPoolSize=p.max_pool_size,
        minPoolSize=p.min_pool_size,
        serverSelectionTimeoutMS=p.server_selection_timeout_ms,
        connectTimeoutMS=p.connect_timeout_ms,
        socketTimeoutMS=p.socket_timeout_ms,
        maxIdleTimeMS=p.max_idle_time_ms,
        waitQueueTimeoutMS=p.wait_queue_timeout_ms,
        retryWrites=True,
        tz_aware=True,
        **options,
    )


@functools.cache
def _shared_client(url: str, redis_url: str | None) -> MongoClient:
    """One client per URL and process (MongoClient is thread-safe; create it after a fork).

    Our own commands feed the slow-query analysis like any application's: the listener
    pushes samples to Redis off the calling thread.
    """
    listeners = []
    if redis_url:
        from workers.querylistener import QueryListener

        listeners.append(QueryListener(redis.Redis.from_url(redis_url), app_name="infra-mind"))
    return mongo_client(url, event_listeners=listeners)


@functools.cache
def _indexes_once(client: MongoClient, db_name: str, retention: Retention) -> None:
    """Create the archive's indexes once per process, on first use."""
    try:
        ensure_indexes(client[db_name], retention)
    except PyMongoError as exc:  # the next process start tries again
        log.warning("could not create MongoDB indexes: %s", exc)


@functools.cache
def _announce_redis_only() -> None:
    log.info("MONGO_URL is not set: Redis-only mode (no archive; rollups live in Redis)")


def mongo_database(settings: Settings) -> Database | None:
    """The archive database, or None in Redis-only mode (said once per process)."""
    if not settings.mongo_url:
        _announce_redis_only()
        return None
    from workers.connection import resolve_redis_url

    client = _shared_client(settings.mongo_url, resolve_redis_url(settings))
    retention = Retention(
        task_records_days=settings.task_records_retention_days,
        resource_snapshots_days=settings.resource_snapshots_retention_days,
    )
    _indexes_once(client, settings.mongo_db, retention)
    return client[settings.mongo_db]


def _transient(exc: BaseException) -> bool:
    """Network trouble, elections and pool waits are worth another try; nothing else is."""
    if isinstance(exc, ConnectionFailure):
        return True
    return isinstance(exc, PyMongoError) and exc.has_error_label("RetryableWriteError")


def with_retry(call: Callable[[], T], what: str, attempts: int = RETRY_ATTEMPTS) -> T:
    """Run ``call`` with exponential backoff on transient errors.

    Raises ``BackendUnavailable`` naming ``what`` when MongoDB stays unreachable; other
    MongoDB errors propagate unchanged.
    """
    retrying = Retrying(
        retry=retry_if_exception(_transient),
        stop=stop_after_attempt(attempts),
        wait=wait_exponential(multiplier=RETRY_WAIT_MIN_S, max=RETRY_WAIT_MAX_S),
        reraise=False,
    )
    try:
        return retrying(call)
    except RetryError as exc:
        cause = exc.last_attempt.exception()
        brief = str(cause).split(" (configured timeouts")[0].split(", Timeout:")[0][:200]
        raise BackendUnavailable(f"MongoDB unavailable during {what}: {brief}") from None


def _only_duplicates(exc: BulkWriteError) -> list[int]:
    """Indexes of the documents that already existed; re-raise on any other failure."""
    details = exc.details
    errors = details.get("writeErrors", [])
    if details.get("writeConcernErrors") or any(e.get("code") != DUPLICATE_KEY for e in errors):
        raise exc
    return [int(e["index"]) for e in errors]


def insert_new(collection: Collection, docs: Sequence[Mapping[str, Any]]) -> set[Any]:
    """Insert ``docs`` unordered; return the ``_id`` of those that were not there yet.

    A retry after a network error may find its own earlier inserts as duplicates, so callers
    that must know ownership exactly should mark documents (e.g. with a batch id) and query.
    """
    if not docs:
        return set()

    def attempt() -> set[Any]:
        try:
            collection.insert_many([dict(d) for d in docs], ordered=False)
        except BulkWriteError as exc:
            dupes = set(_only_duplicates(exc))
            return {d["_id"] for i, d in enumerate(docs) if i not in dupes}
        return {d["_id"] for d in docs}

    return with_retry(attempt, f"insert into {collection.name}")


@dataclass(frozen=True, slots=True)
class Upsert:
    """One ``update_one(filter, update, upsert=True)`` of a bulk."""

    filter: Mapping[str, Any]
    update: Mapping[str, Any]


def _bulk_updates_supported(collection: Collection) -> bool:
    # mongomock (used by the tests without MONGO_URL) predates pymongo 4.9's bulk signature.
    return not type(collection).__module__.startswith("mongomock")


def upsert_each(collection: Collection, ops: Iterable[Upsert]) -> int:
    """Apply upserts in one unordered bulk; return how many hit a duplicate key.

    A duplicate key on an upsert means its filter excluded an existing document, which
    guarded updates use to skip work already applied (see ``scheduler.costs.mongo_sink``).
    """
    ops = list(ops)
    if not ops:
        return 0

    def attempt() -> int:
        if _bulk_updates_supported(collection):
            requests = [UpdateOne(dict(o.filter), dict(o.update), upsert=True) for o in ops]
            try:
                collection.bulk_write(requests, ordered=False)
            except BulkWriteError as exc:
                return len(_only_duplicates(exc))
            return 0
        dupes = 0
        for op in ops:
            try:
                collection.update_one(dict(op.filter), dict(op.update), upsert=True)
            except DuplicateKeyError:
                dupes += 1
        return dupes

    return with_retry(attempt, f"upserts into {collection.name}")
