"""Samples written by ``workers.querylistener.QueryListener`` to a Redis stream.

Each entry holds the app name and a batch of samples: database, redacted command (values
already masked), duration in microseconds, documents returned, unix time. Samples carry no plan
or docs-examined figures: the listener sees the client side only. Resuming is by stream id.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import redis

from scheduler.queries.commands import command_name, statements
from scheduler.queries.readers.base import ReadCounts
from scheduler.queries.record import QueryRecord
from workers.errors import BackendUnavailable
from workers.keys import QUERY_SAMPLES_STREAM

#: Entries (of up to a hundred samples each) fetched per XRANGE round trip.
PAGE = 50
#: Entries read in one run; the rest wait for the next run.
MAX_ENTRIES = 5_000


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class ListenerStreamReader:
    """Reads listener samples after the last stream id read."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        stream: str = QUERY_SAMPLES_STREAM,
        start: dict[str, Any] | None = None,
        limit: int = MAX_ENTRIES,
    ) -> None:
        self.client = client
        self.stream = stream
        self.source = f"listener stream {stream}"
        self.counts = ReadCounts()
        self._limit = limit
        self._last: str | None = (start or {}).get("id")

    def position(self) -> dict[str, Any]:
        return {"id": self._last}

    def records(self) -> Iterator[QueryRecord]:
        read = 0
        while read < self._limit:
            low = f"({self._last}" if self._last else "-"
            try:
                count = min(PAGE, self._limit - read)
                page = self.client.xrange(self.stream, low, "+", count=count)
            except redis.RedisError as exc:
                raise BackendUnavailable(f"cannot read {self.source}: {exc}") from None
            if not page:
                return
            for entry_id, raw in page:
                read += 1
                self._last = _text(entry_id)
                fields = {_text(k): _text(v) for k, v in raw.items()}
                try:
                    samples = json.loads(fields["samples"])
                    if not isinstance(samples, list):
                        raise ValueError("samples is not a list")
                except (KeyError, ValueError) as exc:
                    self.counts.lines += 1
                    self.counts.bad(f"entry {self._last}", f"malformed entry ({exc})")
                    continue
                for number, sample in enumerate(samples):
                    self.counts.lines += 1
                    try:
                        found = self._records(sample, fields.get("app") or None)
                    except (KeyError, IndexError, TypeError, ValueError) as exc:
                        self.counts.bad(f"entry {self._last}#{number}", f"malformed sample ({exc})")
                        continue
                    if isinstance(found, str):
                        self.counts.skipped[found] += 1
                        continue
                    self.counts.records += len(found)
                    yield from found

    @staticmethod
    def _records(sample: list[Any], app: str | None) -> list[QueryRecord] | str:
        database, command, micros, n_returned, ts = sample
        if not isinstance(command, dict):
            raise ValueError("command is not a document")
        name = command_name(command)
        stmts = statements(command)
        if not stmts:
            return f"command {name}"
        ns = f"{database}.{command.get(name)}"
        ms = float(micros) / 1000 / len(stmts)
        when = datetime.fromtimestamp(float(ts), UTC)
        single = len(stmts) == 1 and n_returned is not None
        return [
            QueryRecord(
                ns=ns,
                op=s.op,
                duration_ms=ms,
                filter=s.filter,
                sort=s.sort,
                projection=s.projection,
                stages=s.stages,
                n_returned=int(n_returned) if single else None,
                ts=when,
                app_name=app,
            )
            for s in stmts
        ]
