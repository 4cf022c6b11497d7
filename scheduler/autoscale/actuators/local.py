"""The local actuator: desired sizes in Redis, carried out by the ``infra-mind up`` supervisor.

The supervisor reads ``workers.keys.desired_instances`` for each pool and spawns or stops
``celery worker`` processes (idle ones first, warm shutdown) until it matches.
"""

from __future__ import annotations

import redis

from workers import keys
from workers.settings import Settings


class LocalActuator:
    name = "local"

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    @classmethod
    def from_settings(
        cls, client: redis.Redis, settings: Settings, **options: object
    ) -> LocalActuator:
        return cls(client)

    def apply(self, agent_type: str, pool: str, desired: int) -> None:
        if desired < 0:
            raise ValueError(f"desired instances must be >= 0, got {desired}")
        self.client.set(keys.desired_instances(agent_type, pool), str(desired))

    def current(self, agent_type: str, pool: str) -> int | None:
        value = self.client.get(keys.desired_instances(agent_type, pool))
        if value is None:
            return None
        try:
            return int(value)
        except ValueError:
            return None
