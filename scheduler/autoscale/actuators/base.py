"""The actuator interface: carry a pool's desired size out somewhere."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import redis

from workers.settings import Settings


@runtime_checkable
class Actuator(Protocol):
    """Sets and reports the size of one pool.

    ``apply`` must be idempotent (the job may repeat a size) and drain-safe on the way down:
    the actuator, or what it drives, stops idle instances first and lets a stopping worker
    finish or requeue what it holds. ``current`` is the size the actuator holds, None when it
    has none yet (the job then takes the instances seen in heartbeats). Both raise an
    ``InfraMindError`` subclass on failure.
    """

    name: str

    def apply(self, agent_type: str, pool: str, desired: int) -> None: ...

    def current(self, agent_type: str, pool: str) -> int | None: ...


class ActuatorFactory(Protocol):
    """What the registry calls to build an actuator from the process' settings."""

    def from_settings(
        self, client: redis.Redis, settings: Settings, **options: object
    ) -> Actuator: ...
