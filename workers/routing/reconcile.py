"""The periodic routing reconcile: expired targets out, leftovers home, counters repaired.

Safe to run twice and to kill mid-way: every step is an atomic Lua call whose effect a later
run either finds done or does again.

In-flight repair compares each counter with what is observably in flight (messages waiting
in the queue plus messages delivered and not yet acknowledged, from the broker's ``unacked``
hash) and only corrects drift that was there on the previous run too, by the smaller of the
two amounts: a leak (a task lost without its completion hook, a crashed producer's
reservations) persists and is removed; a passing difference (a message between queue and
worker, a batch reserved but not yet published) is left alone.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import redis

from workers import keys
from workers.routing import keyspace
from workers.routing.config import RoutingConfig
from workers.routing.keyspace import Level
from workers.routing.scripts import now_arg, script, text
from workers.routing.targets import configure_groups
from workers.settings import Settings

#: Kombu's hash of delivered, unacknowledged messages (Redis transport default name).
UNACKED_KEY = "unacked"
#: Kombu's priority steps: one list per step (see ``workers.keys.priority_queue_keys``).
PRIORITY_STEPS = (0, 3, 6, 9)
#: Messages moved per Lua call, so one call never blocks Redis for long.
MOVE_BATCH = 500
#: Margin past the broker's visibility timeout before a vanished target's record is purged.
PURGE_MARGIN_S = 120.0


@dataclass(frozen=True, slots=True)
class Observation:
    """One queue's counter and what is observably in flight on it."""

    counter: int
    queued: int
    unacked: int

    @property
    def drift(self) -> int:
        """> 0: counter above anything in flight; < 0: below the waiting messages."""
        if self.counter > self.queued + self.unacked:
            return self.counter - self.queued - self.unacked
        if self.counter < self.queued:
            return self.counter - self.queued
        return 0


def plan_repairs(
    observed: Mapping[str, Observation], previous: Mapping[str, int]
) -> tuple[dict[str, int], dict[str, int]]:
    """(corrections to apply, drift to remember) from this run's and the last run's drift.

    Only drift with the same sign on both runs is corrected, by the smaller amount.
    """
    deltas: dict[str, int] = {}
    remember: dict[str, int] = {}
    for queue, obs in observed.items():
        now, before = obs.drift, previous.get(queue, 0)
        delta = 0
        if now > 0 and before > 0:
            delta = -min(now, before)
        elif now < 0 and before < 0:
            delta = min(-now, -before)
        if delta:
            deltas[queue] = delta
        if now + delta:
            remember[queue] = now + delta
    return deltas, remember


def unacked_by_queue(client: redis.Redis, unacked_key: str = UNACKED_KEY) -> Counter[str]:
    """Delivered, unacknowledged messages per routing key (= queue for our direct routes)."""
    counts: Counter[str] = Counter()
    for _, raw in client.hscan_iter(unacked_key, count=500):
        try:
            _message, _exchange, routing_key = json.loads(raw)
        except (ValueError, TypeError):
            continue
        counts[str(routing_key)] += 1
    return counts


def queued(client: redis.Redis, queues: Iterable[str]) -> dict[str, int]:
    names = list(queues)
    with client.pipeline(transaction=False) as pipe:
        for queue in names:
            for key in keys.priority_queue_keys(queue):
                pipe.llen(key)
        lengths = pipe.execute()
    steps = len(keys.priority_queue_keys("q"))
    return {q: sum(lengths[i * steps : (i + 1) * steps]) for i, q in enumerate(names)}


def _server_ms(client: redis.Redis) -> float:
    seconds, micros = client.time()
    return seconds * 1000 + micros / 1000


def _groups(client: redis.Redis, settings: Settings) -> list[str]:
    found = {text(g) for g in client.smembers(keyspace.GROUPS)}
    found |= {keyspace.group(name, level) for name in settings.agents for level in Level}
    return sorted(found)


def move_leftovers(
    client: redis.Redis, source: str, destination: str, *, now_ms: float | None = None
) -> int:
    """Move every message of ``source`` (all priorities) to ``destination``; how many."""
    src = keys.priority_queue_keys(source)
    dst = keys.priority_queue_keys(destination)
    total = 0
    while True:
        moved = int(
            script("move")(
                client,
                (*src, *dst),
                (source, destination, MOVE_BATCH, len(src), now_arg(now_ms)),
            )
        )
        total += moved
        if moved < MOVE_BATCH:
            return total


def restore_unacked(
    client: redis.Redis,
    source: str,
    destination: str,
    unacked_key: str = UNACKED_KEY,
    *,
    now_ms: float | None = None,
) -> int:
    """Put back, on ``destination``, the messages a vanished instance took from its direct
    queue ``source`` without acknowledging them; how many."""
    steps = PRIORITY_STEPS
    lists = keys.priority_queue_keys(destination, steps)
    return int(
        script("restore")(
            client,
            (unacked_key, f"{unacked_key}_index", *lists),
            (source, destination, len(steps), *steps, now_arg(now_ms)),
        )
    )


def _vanished(client: redis.Redis, fields: Mapping[str, str]) -> bool:
    """A direct queue nobody will consume again: its target left and its heartbeat is gone."""
    state = fields.get("state", "")
    if state not in ("expired", "gone", "draining"):
        return False
    instance = fields.get("instance", "")
    return state == "gone" or not instance or not client.exists(keys.heartbeat(instance))


def reconcile(
    client: redis.Redis,
    settings: Settings,
    now: float | None = None,
    *,
    config: RoutingConfig | None = None,
    unacked_key: str = UNACKED_KEY,
) -> dict[str, Any]:
    """One reconcile pass over every routing group; returns what it did.

    ``now`` in seconds (None: the Redis server's clock). ``client`` must be on the broker's
    database (the queues and the ``unacked`` hash are read and moved).
    """
    config = config or RoutingConfig.from_settings(settings)
    now_ms = None if now is None else now * 1000
    clock_ms = now_ms if now_ms is not None else _server_ms(client)
    retention_ms = (2 * settings.task_time_limit_s + 60 + PURGE_MARGIN_S) * 1000
    configure_groups(client, settings, config, now_ms=now_ms)
    report: dict[str, Any] = {"expired": {}, "moved": {}, "repaired": {}, "purged": []}
    known = {keys.pool_queue(agent.name, pool) for agent, pool in settings.pools()}
    for group in _groups(client, settings):
        gone = [text(q) for q in script("sweep")(client, (group,), (now_arg(now_ms),))]
        if gone:
            report["expired"][group] = gone
        members = sorted(text(q) for q in client.smembers(f"{group}:known"))
        known.update(members)
        if not group.endswith(f":{Level.INSTANCE.value}"):
            continue
        for queue in members:
            fields = {text(k): text(v) for k, v in client.hgetall(keyspace.target(queue)).items()}
            if not fields.get("pool") or not _vanished(client, fields):
                continue
            home = keys.pool_queue(fields["type"], fields["pool"])
            moved = move_leftovers(client, queue, home, now_ms=now_ms)
            moved += restore_unacked(client, queue, home, unacked_key, now_ms=now_ms)
            if moved:
                report["moved"][queue] = moved
            gone_ms = float(fields.get("gone_ms") or clock_ms)
            if clock_ms - gone_ms > retention_ms and _purge(client, group, queue):
                report["purged"].append(queue)
                known.discard(queue)
    report["repaired"] = _repair(client, known, unacked_key, now_ms)
    return report


def _purge(client: redis.Redis, group: str, queue: str) -> bool:
    """Forget a long-vanished target whose queue is empty and has nothing in flight."""
    if any(client.llen(k) for k in keys.priority_queue_keys(queue)):
        return False
    if int(client.hget(keys.INFLIGHT, queue) or 0):
        return False
    target = keyspace.target(queue)
    with client.pipeline(transaction=True) as pipe:
        pipe.delete(target, f"{target}:m", f"{target}:mi")
        pipe.srem(f"{group}:known", queue)
        pipe.hdel(keyspace.DRIFT, queue)
        pipe.execute()
    return True


def _repair(
    client: redis.Redis, known: set[str], unacked_key: str, now_ms: float | None
) -> dict[str, int]:
    counters = {text(k): int(v) for k, v in client.hgetall(keys.INFLIGHT).items()}
    names = sorted(known | set(counters))
    waiting = queued(client, names)
    unacked = unacked_by_queue(client, unacked_key)
    observed = {
        q: Observation(counters.get(q, 0), waiting.get(q, 0), unacked.get(q, 0)) for q in names
    }
    previous = {text(k): int(v) for k, v in client.hgetall(keyspace.DRIFT).items()}
    deltas, remember = plan_repairs(observed, previous)
    if deltas:
        args: list[Any] = [now_arg(now_ms)]
        for queue, delta in deltas.items():
            args += [queue, delta]
        script("repair")(client, (), args)
    with client.pipeline(transaction=True) as pipe:
        pipe.delete(keyspace.DRIFT)
        if remember:
            pipe.hset(keyspace.DRIFT, mapping=remember)
        pipe.execute()
    return deltas
