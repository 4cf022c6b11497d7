"""Where the routing layer keeps its state in Redis: every key it uses, built in one place.

A *group* is the set of targets one agent type routes over at one level: its pool queues
(``level = pool``) or its instances' direct queues (``level = instance``). The Lua scripts
derive a group's keys from its prefix, so the suffixes below are mirrored in ``common.lua``.
"""

from __future__ import annotations

from enum import StrEnum

from workers import keys
from workers.errors import InvalidInput
from workers.names import validate_name

#: Prefix of every routing key.
LB_PREFIX = f"{keys.PREFIX}:lb"
#: Hash prefix of one target's state: ``im:lb:t:<queue>`` (capacity, load, latency, stats).
TARGET_PREFIX = f"{LB_PREFIX}:t:"
#: Set of every group prefix that has seen a target (for stats and reconcile).
GROUPS = f"{LB_PREFIX}:groups"
#: Hash queue -> persistent counter drift seen by the previous reconcile run.
DRIFT = f"{LB_PREFIX}:drift"
#: Per-group key suffixes (see ``common.lua``): live targets by deadline, the strategy
#: indexes, the consistent-hash ring, per-strategy stats, config and running sums.
GROUP_SUFFIXES = ("alive", "known", "lc", "rt", "res", "rr", "wrrw", "ring", "stats", "meta")
#: Prefix of a direct (per-instance) queue.
DIRECT_QUEUE_PREFIX = f"{keys.AGENT_QUEUE_PREFIX}."


class Level(StrEnum):
    """What the targets of a group are: pool queues or per-instance direct queues."""

    POOL = "pool"
    INSTANCE = "instance"


def group(agent_type: str, level: Level | str) -> str:
    """Key prefix of one routing group: ``im:lb:<type>:<level>``."""
    return f"{LB_PREFIX}:{validate_name('agent type', agent_type)}:{Level(level).value}"


def group_key(group_prefix: str, suffix: str) -> str:
    return f"{group_prefix}:{suffix}"


def target(queue: str) -> str:
    """Hash with one target's state; pool targets also own ``<key>:m`` and ``<key>:mi``."""
    return f"{TARGET_PREFIX}{queue}"


def instance_queue(instance_name: str) -> str:
    """Direct queue of one worker instance: ``agent.<type>.<pool>.<n>@<host>``.

    Raises ``InvalidInput`` if the name is not an instance name.
    """
    if keys.parse_instance(instance_name) is None or "@" not in instance_name:
        raise InvalidInput(
            f"invalid instance name {instance_name!r}: expected <type>.<pool>.<n>@<host>"
        )
    return DIRECT_QUEUE_PREFIX + instance_name


def level_of(queue: str) -> Level:
    """Direct queues carry the instance's ``@host``; pool queues never contain ``@``."""
    return Level.INSTANCE if "@" in queue else Level.POOL
