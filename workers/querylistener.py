"""A pymongo ``CommandListener`` that samples queries into a Redis stream for slow-query analysis.

Install it on any ``MongoClient``::

    listener = QueryListener(redis.Redis.from_url(url))
    client = MongoClient(mongo_url, event_listeners=[listener])

The application thread does O(1) work per command: a dict insert when the command starts, a
dict pop plus a ``deque.append`` of a small tuple when it ends. Everything else (redaction of
values, JSON encoding, the XADD) runs on a daemon thread in batches. The listener never blocks
and never raises into the application: when Redis is down or the queue is full, samples are
dropped and counted. Query values never leave the process: filters are masked to type
placeholders (``mask``) before they are written.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
import uuid
import weakref
from collections import deque
from datetime import datetime
from decimal import Decimal
from typing import Any

import redis
from bson import Binary, Code, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp
from pymongo import monitoring

from workers.keys import QUERY_SAMPLES_STREAM

log = logging.getLogger(__name__)

#: Stream entries kept (approximate trim); each holds up to ``SAMPLES_PER_ENTRY`` samples, so
#: this bounds the stream to about 200,000 samples between two runs of the analysis job.
STREAM_MAXLEN = 2_000
#: Commands waiting for their reply; beyond this a start is ignored (a leak guard, never hit
#: by a healthy client whose in-flight commands are bounded by its pool).
MAX_PENDING = 10_000
#: Samples buffered for the sender thread; when Redis is slow the oldest are dropped.
MAX_QUEUE = 50_000
#: Seconds between two flushes of the buffer: bounds the delay and the XADD rate.
FLUSH_INTERVAL_S = 0.5
#: Samples packed into one stream entry: one XADD per hundred samples keeps the sender's
#: cost per sample a few microseconds instead of the tens one command each would cost.
SAMPLES_PER_ENTRY = 100
#: Entries sent in one pipelined round trip.
ENTRIES_PER_FLUSH = 20
#: Array elements kept when masking (``$in`` lists, update statements): enough for the shape.
MAX_ARRAY = 16

#: Commands whose filter can be analysed; everything else is ignored at O(1) cost.
TRACKED_COMMANDS = frozenset(
    {"find", "aggregate", "count", "distinct", "update", "delete", "findAndModify", "findandmodify"}
)

#: Type placeholders that replace every value in a filter (the shape vocabulary).
NUMBER, STRING, BOOL, NULL, DATE, OID = "<number>", "<str>", "<bool>", "<null>", "<date>", "<oid>"
REGEX, BINARY, TIMESTAMP = "<regex>", "<binary>", "<timestamp>"
OBJECT, ARRAY = "<object>", "<array>"
MINKEY, MAXKEY, CODE, OTHER = "<minkey>", "<maxkey>", "<code>", "<other>"
PLACEHOLDERS = frozenset(
    {
        NUMBER,
        STRING,
        BOOL,
        NULL,
        DATE,
        OID,
        REGEX,
        BINARY,
        TIMESTAMP,
        OBJECT,
        ARRAY,
        MINKEY,
        MAXKEY,
        CODE,
        OTHER,
    }
)
_BY_TYPE: dict[type, str] = {
    str: STRING,
    int: NUMBER,
    float: NUMBER,
    bool: BOOL,
    type(None): NULL,
    datetime: DATE,
    ObjectId: OID,
    Int64: NUMBER,
    Decimal128: NUMBER,
    Decimal: NUMBER,
    Regex: REGEX,
    re.Pattern: REGEX,
    bytes: BINARY,
    Binary: BINARY,
    uuid.UUID: BINARY,
    Timestamp: TIMESTAMP,
    MinKey: MINKEY,
    MaxKey: MAXKEY,
    Code: CODE,
}
#: Extended JSON wrappers (as found in mongod logs and exports) and the type each stands for.
EJSON_TYPES: dict[str, str] = {
    "$oid": OID,
    "$date": DATE,
    "$numberLong": NUMBER,
    "$numberInt": NUMBER,
    "$numberDouble": NUMBER,
    "$numberDecimal": NUMBER,
    "$regularExpression": REGEX,
    "$binary": BINARY,
    "$uuid": BINARY,
    "$timestamp": TIMESTAMP,
    "$minKey": MINKEY,
    "$maxKey": MAXKEY,
    "$symbol": STRING,
    "$code": CODE,
    "$undefined": NULL,
    "$dbPointer": OTHER,
}


def placeholder(value: Any) -> str:
    """The type placeholder of one scalar; a placeholder maps to itself (masking is idempotent)."""
    found = _BY_TYPE.get(type(value))
    if found is STRING:
        return value if value in PLACEHOLDERS else STRING
    if found is not None:
        return found
    for kind, name in _BY_TYPE.items():
        if kind is not type(None) and isinstance(value, kind):
            return name
    return OTHER


def ejson_type(doc: dict[str, Any]) -> str | None:
    """The placeholder of an Extended JSON value such as ``{"$oid": "..."}``, else None."""
    if 0 < len(doc) <= 2:
        return EJSON_TYPES.get(next(iter(doc)))
    return None


def mask(value: Any) -> Any:
    """Replace every value by its type placeholder, keeping keys, operators and array sizes.

    Field names and operators are kept (they are the schema, not the data); arrays keep at
    most ``MAX_ARRAY`` elements.
    """
    if isinstance(value, dict):
        wrapped = ejson_type(value)
        if wrapped is not None:
            return wrapped
        return {key: mask(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [mask(item) for item in value[:MAX_ARRAY]]
    return placeholder(value)


def _mask_projection(projection: Any) -> Any:
    if not isinstance(projection, dict):
        return None
    return {k: v if isinstance(v, int | bool) else mask(v) for k, v in projection.items()}


def _redact_stage(stage: Any) -> dict[str, Any]:
    name = next(iter(stage), "?") if isinstance(stage, dict) else "?"
    if name == "$match":
        return {name: mask(stage[name])}
    if name in ("$sort", "$limit", "$skip"):
        return {name: stage[name]}
    return {name: {}}


def redact_command(name: str, command: dict[str, Any]) -> dict[str, Any]:
    """The parts of a command the analyser needs, with every query value masked.

    Update documents, inserted documents, session ids and non-``$match`` stage bodies are
    dropped: they may hold data and say nothing about the index a query needs.
    """
    coll = command.get(name)
    out: dict[str, Any] = {name: coll if isinstance(coll, str) else mask(coll)}
    if name == "find":
        out["filter"] = mask(command.get("filter") or {})
        for key in ("sort", "limit", "skip", "hint"):
            if key in command:
                out[key] = command[key]
        if "projection" in command:
            out["projection"] = _mask_projection(command["projection"])
    elif name == "aggregate":
        out["pipeline"] = [_redact_stage(s) for s in command.get("pipeline") or ()]
    elif name in ("count", "distinct"):
        out["query"] = mask(command.get("query") or {})
        if "key" in command:
            out["key"] = command["key"]
    elif name == "update":
        out["updates"] = [
            {"q": mask(s.get("q") or {}), "multi": bool(s.get("multi"))}
            for s in (command.get("updates") or ())[:MAX_ARRAY]
        ]
    elif name == "delete":
        out["deletes"] = [
            {"q": mask(s.get("q") or {}), "limit": s.get("limit", 0)}
            for s in (command.get("deletes") or ())[:MAX_ARRAY]
        ]
    else:  # findAndModify
        out["query"] = mask(command.get("query") or {})
        if "sort" in command:
            out["sort"] = command["sort"]
    return out


def _n_returned(name: str, reply: Any) -> int | None:
    """Documents a reply carries or counts, read with a few dict lookups (app thread)."""
    if name in ("find", "aggregate"):
        cursor = reply.get("cursor")
        return len(cursor.get("firstBatch", ())) if cursor else None
    if name == "distinct":
        return len(reply.get("values", ()))
    if name in ("findAndModify", "findandmodify"):
        return 1 if reply.get("value") is not None else 0
    return reply.get("n")


class QueryListener(monitoring.CommandListener):
    """Samples tracked commands to ``stream``; cheap on the application thread, never raises.

    ``min_duration_ms`` keeps only commands at least that slow (0 keeps all, which gives the
    analyser true percentiles). Call ``close()`` at shutdown to flush what is buffered.
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        stream: str = QUERY_SAMPLES_STREAM,
        app_name: str | None = None,
        min_duration_ms: float = 0.0,
        flush_interval_s: float = FLUSH_INTERVAL_S,
        max_queue: int = MAX_QUEUE,
        maxlen: int = STREAM_MAXLEN,
    ) -> None:
        self._redis = client
        self._stream = stream
        self._app_name = app_name or ""
        self._min_micros = int(min_duration_ms * 1000)
        self._flush_interval_s = flush_interval_s
        self._maxlen = maxlen
        self._pending: dict[tuple[Any, int], tuple[dict[str, Any], str]] = {}
        self._queue: deque[tuple[Any, ...]] = deque(maxlen=max_queue)
        self._stop = threading.Event()
        self._flush_lock = threading.Lock()
        self.sent = 0
        self.dropped = 0
        self.errors = 0
        self._thread: threading.Thread | None = None
        self._start_thread()
        ref = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: (lst := ref()) and lst._after_fork())

    # -- application thread: O(1), no I/O, no exceptions ------------------------------------

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        try:
            if event.command_name in TRACKED_COMMANDS and len(self._pending) < MAX_PENDING:
                self._pending[(event.connection_id, event.request_id)] = (
                    event.command,
                    event.database_name,
                )
        except Exception:  # never raise into the application
            self.errors += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        try:
            entry = self._pending.pop((event.connection_id, event.request_id), None)
            if entry is not None and event.duration_micros >= self._min_micros:
                queue = self._queue
                if len(queue) == queue.maxlen:
                    self.dropped += 1
                name = event.command_name
                queue.append(
                    (
                        entry[0],
                        entry[1],
                        name,
                        event.duration_micros,
                        _n_returned(name, event.reply),
                        time.time(),
                    )
                )
        except Exception:  # never raise into the application
            self.errors += 1

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        try:
            self._pending.pop((event.connection_id, event.request_id), None)
        except Exception:  # never raise into the application
            self.errors += 1

    # -- sender thread -----------------------------------------------------------------------

    def _start_thread(self) -> None:
        self._thread = threading.Thread(target=self._run, name="query-listener", daemon=True)
        self._thread.start()

    def _after_fork(self) -> None:
        """A forked child has the buffers but not the thread: start afresh."""
        self._pending.clear()
        self._queue.clear()
        self._stop = threading.Event()
        self._flush_lock = threading.Lock()
        self._start_thread()

    def _run(self) -> None:
        while not self._stop.wait(self._flush_interval_s):
            self.flush()

    @staticmethod
    def _encode(item: tuple[Any, ...]) -> list[Any]:
        command, database, name, micros, n_returned, ts = item
        return [database, redact_command(name, command), micros, n_returned, round(ts, 3)]

    def _entry(self) -> tuple[dict[str, str], int]:
        """Pop up to ``SAMPLES_PER_ENTRY`` samples into one stream entry."""
        samples = []
        while self._queue and len(samples) < SAMPLES_PER_ENTRY:
            item = self._queue.popleft()
            try:
                samples.append(self._encode(item))
            except Exception:  # a command mutated while we read it
                self.dropped += 1
        text = json.dumps(samples, default=str, separators=(",", ":"))
        return {"app": self._app_name, "samples": text}, len(samples)

    def flush(self) -> int:
        """Send what is buffered now; returns the samples written. Errors drop the batch.

        Each stream entry has ``app`` and ``samples``: a JSON array of
        ``[database, redacted command, duration µs, n returned or null, unix time]``.
        """
        written = 0
        with self._flush_lock:
            while self._queue:
                entries = [self._entry() for _ in range(ENTRIES_PER_FLUSH) if self._queue]
                count = sum(n for _, n in entries)
                try:
                    pipe = self._redis.pipeline(transaction=False)
                    for fields, n in entries:
                        if n:
                            pipe.xadd(self._stream, fields, maxlen=self._maxlen, approximate=True)
                    pipe.execute()
                    written += count
                except redis.RedisError as exc:
                    self.dropped += count
                    log.warning("query listener: dropped %d samples: %s", count, exc)
                    break
        self.sent += written
        return written

    def close(self) -> None:
        """Stop the sender thread after a last flush."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.flush()
