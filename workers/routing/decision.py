"""One routing decision in Redis, and what it says: the picks, fallback, affinity outcome."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import redis

from workers.routing import keyspace
from workers.routing.config import AFFINITY_FACTOR
from workers.routing.scripts import decision_script, now_arg, script, text
from workers.routing.strategies import resolve_strategy

#: Stats name of the single-target path (an agent type with one pool queue).
SINGLE_TARGET = "single_target"


class Status(StrEnum):
    OK = "ok"
    #: No live target: the task goes to the fallback pool queue and waits for an instance.
    FALLBACK = "fallback"


class AffinityOutcome(StrEnum):
    OFF = ""
    HIT = "hit"
    #: The key's owner was above its load bound; the strategy chose instead.
    SPILL = "spill"
    #: No live target on the ring.
    NO_TARGET = "none"


@dataclass(frozen=True, slots=True)
class Decision:
    """Where the router sent (or reserved) tasks and why."""

    group: str
    strategy: str
    picks: tuple[str, ...]
    status: Status = Status.OK
    affinity: AffinityOutcome = AffinityOutcome.OFF

    @property
    def queue(self) -> str:
        return self.picks[0]

    @property
    def fallback(self) -> bool:
        return self.status is Status.FALLBACK


def decide(
    client: redis.Redis,
    group: str,
    strategy: str,
    fallback_queue: str,
    *,
    count: int = 1,
    affinity_key: str | None = None,
    affinity_factor: float = AFFINITY_FACTOR,
    returns: Sequence[str] = (),
    fallback_returns: int = 0,
    seed: int | None = None,
    now_ms: float | None = None,
) -> Decision:
    """Make ``count`` decisions for ``group`` in one atomic Lua call.

    Each pick is counted in flight as it is made, so a batch spreads exactly as the same
    number of single decisions would. ``returns`` / ``fallback_returns`` hand back unused
    picks of an earlier call (made with the same strategy) in the same round trip.
    Raises ``UnknownName`` for an unknown strategy.
    """
    lua = decision_script(resolve_strategy(strategy))
    if seed is None:
        seed = random.getrandbits(31)
    back: list[str | int] = []
    for queue, n in Counter(returns).items():
        back += [queue, n]
    reply = lua(
        client,
        (group,),
        (
            count,
            now_arg(now_ms),
            seed,
            affinity_key or "",
            repr(float(affinity_factor)),
            fallback_queue,
            fallback_returns,
            *back,
        ),
    )
    return Decision(
        group=group,
        strategy=strategy,
        picks=tuple(text(q) for q in reply[2:]),
        status=Status(text(reply[0])),
        affinity=AffinityOutcome(text(reply[1])),
    )


def reserve(
    client: redis.Redis,
    group: str,
    queue: str,
    count: int,
    back: int = 0,
    *,
    name: str = SINGLE_TARGET,
    now_ms: float | None = None,
) -> None:
    """Count ``count`` tasks in flight on ``queue`` and hand back ``back`` unused ones.

    The single-target path: nothing to choose, so no strategy runs.
    """
    script("reserve")(client, (group,), (queue, count, back, now_arg(now_ms), name))


def group_of(agent_type: str, queue: str) -> str:
    """The group a queue of ``agent_type`` belongs to (by its name)."""
    return keyspace.group(agent_type, keyspace.level_of(queue))
