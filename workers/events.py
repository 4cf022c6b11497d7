"""The task event: one entry on the ``im:events`` stream per finished agent task.

Workers only append (XADD, approximate MAXLEN); the cost rollup consumes the stream through
a consumer group. ``task_id`` identifies a task across redeliveries, so consumers deduplicate
on it (a task redelivered after a crash may emit twice; it is counted once).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from typing import Any

import redis

from workers import keys


class TaskStatus(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(slots=True)
class TaskEvent:
    """What one finished task cost and how long it took. Money is a decimal string (USD)."""

    task_id: str
    agent_type: str
    pool: str
    instance: str
    provider: str
    model: str
    status: TaskStatus
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    llm_cost_usd: str = "0"
    priced: bool = True
    price_source: str = ""
    compute_cost_usd: str = "0"
    queue_wait_ms: float = 0.0
    run_ms: float = 0.0
    cache_hit: bool = False
    tenant: str = ""
    error: str = ""
    finished_at: float = field(default_factory=time.time)

    def to_fields(self) -> dict[str, str]:
        """Flat string fields for XADD (bools as "1"/"0")."""
        out: dict[str, str] = {}
        for key, value in asdict(self).items():
            if isinstance(value, bool):
                out[key] = "1" if value else "0"
            else:
                out[key] = str(value)
        return out

    @classmethod
    def from_fields(cls, data: dict[Any, Any]) -> TaskEvent:
        """Inverse of :meth:`to_fields`; accepts bytes or str keys and values."""
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            entry = _BY_KEY.get(key)
            if entry is not None:
                kwargs[entry[0]] = entry[1](value)
        return cls(**kwargs)


def _text(value: str | bytes) -> str:
    return value.decode() if value.__class__ is bytes else value  # type: ignore[union-attr,return-value]


def _parser(type_name: str) -> Callable[[Any], Any]:
    """Parser of one field's stream form (int and float take bytes as they are)."""
    return {
        "int": int,
        "float": float,
        "bool": lambda v: v in ("1", b"1"),
        "TaskStatus": lambda v: TaskStatus(_text(v)),
    }.get(type_name, _text)


#: Field key (str and bytes) -> (name, parser); the rollup parses millions of events with it.
_BY_KEY: dict[Any, tuple[str, Callable[[Any], Any]]] = {}
for _f in fields(TaskEvent):
    _BY_KEY[_f.name] = _BY_KEY[_f.name.encode()] = (_f.name, _parser(str(_f.type)))


def emit(client: redis.Redis, event: TaskEvent, maxlen: int) -> str:
    """Append ``event`` to the stream; returns the stream entry id."""
    entry = client.xadd(keys.EVENTS_STREAM, event.to_fields(), maxlen=maxlen, approximate=True)
    return entry.decode() if isinstance(entry, bytes) else str(entry)
