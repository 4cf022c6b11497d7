"""Reading the events stream through a consumer group, in the order a safe rollup needs.

Order of a run: this consumer's own pending entries (a previous run of this process that
failed), then entries of consumers idle longer than ``claim_idle_ms`` (a killed job), then new
entries. Nothing is acknowledged here: the caller acks after its writes succeeded.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import redis

#: Entry of a stream read: (entry id, fields); fields is None for an entry trimmed away.
Entry = tuple[str, dict[Any, Any] | None]


class Phase(StrEnum):
    OWN_PENDING = "own_pending"
    CLAIMED = "claimed"
    NEW = "new"


def default_consumer() -> str:
    """Consumer name of this process: stable for its lifetime, distinct across processes."""
    return f"{socket.gethostname()}-{os.getpid()}"


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass
class GroupReader:
    """Batches of entries for one consumer of one group."""

    client: redis.Redis
    stream: str
    group: str
    consumer: str
    batch: int
    claim_idle_ms: int
    claimed_deleted: list[str] = field(default_factory=list)

    def ensure_group(self) -> None:
        """Create the group at the start of the stream (nothing already there is skipped)."""
        try:
            self.client.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def _read(self, start: str) -> list[Entry]:
        reply = self.client.xreadgroup(
            self.group, self.consumer, {self.stream: start}, count=self.batch
        )
        if not reply:
            return []
        return [(_s(eid), fields) for eid, fields in reply[0][1]]

    def own_pending(self) -> Iterator[list[Entry]]:
        """This consumer's unacknowledged entries; the caller must ack before the next batch."""
        after = "0"
        while True:
            entries = self._read(after)
            if not entries:
                return
            yield entries
            after = entries[-1][0]  # entries the caller could not ack are not re-read

    def claimed(self) -> Iterator[list[Entry]]:
        """Entries left pending by consumers idle for ``claim_idle_ms`` (e.g. a killed run)."""
        cursor = "0-0"
        while True:
            reply = self.client.xautoclaim(
                self.stream, self.group, self.consumer,
                min_idle_time=self.claim_idle_ms, start_id=cursor, count=self.batch,
            )  # fmt: skip
            cursor = _s(reply[0])
            entries = [(_s(eid), fields) for eid, fields in reply[1]]
            if len(reply) > 2:  # ids trimmed from the stream while pending (Redis >= 7)
                self.claimed_deleted.extend(_s(eid) for eid in reply[2])
            if entries:
                yield entries
            if cursor == "0-0":
                return

    def new(self) -> Iterator[list[Entry]]:
        while True:
            entries = self._read(">")
            if not entries:
                return
            yield entries

    def ack(self, ids: list[str]) -> int:
        return int(self.client.xack(self.stream, self.group, *ids)) if ids else 0

    def pending_count(self) -> int:
        info = self.client.xpending(self.stream, self.group)
        return int(info["pending"]) if info else 0

    def forget_idle_consumers(self, idle_ms: int) -> list[str]:
        """Remove consumers with nothing pending that have been idle ``idle_ms``."""
        removed = []
        for info in self.client.xinfo_consumers(self.stream, self.group):
            name = _s(info["name"])
            if name != self.consumer and int(info["pending"]) == 0 and info["idle"] > idle_ms:
                self.client.xgroup_delconsumer(self.stream, self.group, name)
                removed.append(name)
        return removed
