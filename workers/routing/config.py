"""Tunables of the routing layer, with the reason for each default.

They are read from the settings object when it has them (``routing_<name>``), else these
defaults apply, so the layer works with any :class:`workers.settings.Settings`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from workers.errors import InvalidInput

#: Time constant of the peak-EWMA latency (response_time): long enough to ride out one slow
#: task, short enough that a recovered instance is tried again within tens of seconds.
DECAY_S = 10.0
#: Bounded-load factor of affinity routing: a key stays on its instance while that instance
#: carries at most 1.25 x its fair share (HAProxy's default hash-balance-factor).
AFFINITY_FACTOR = 1.25
#: Largest decision batch one producer reserves in one Lua call; 64 publishes share one
#: round trip, which keeps routing overhead within a few percent of a bare publish.
BATCH_MAX = 64
#: Unused reservations older than this are handed back: decisions stay fresh (100 ms is well
#: below an agent task's run time) and a stream of 640+ publishes/s fills whole batches.
BATCH_MAX_AGE_S = 0.1
#: CPU/memory usage is compared in steps of this many percentage points (resource strategy),
#: so heartbeat noise does not flip every decision; in-flight load breaks ties inside a step.
RESOURCE_STEP = 10.0
#: Affinity keys are hashed, never stored per key; 256 bytes covers any session or tenant id.
MAX_AFFINITY_KEY_BYTES = 256
#: Latency estimate (ms) of a target no task has finished on yet, while no peer has one
#: either: about one LLM call; the first real sample replaces it.
INITIAL_LATENCY_MS = 500.0
#: Heartbeat TTL assumed when the heartbeat hash carries none (matches the worker default).
DEFAULT_TTL_S = 6.0


@dataclass(frozen=True)
class RoutingConfig:
    """Routing tunables; build with :meth:`from_settings`."""

    decay_s: float = DECAY_S
    affinity_factor: float = AFFINITY_FACTOR
    batch_max: int = BATCH_MAX
    batch_max_age_s: float = BATCH_MAX_AGE_S
    resource_step: float = RESOURCE_STEP
    initial_latency_ms: float = INITIAL_LATENCY_MS
    default_ttl_s: float = DEFAULT_TTL_S

    def __post_init__(self) -> None:
        if self.decay_s <= 0:
            raise InvalidInput(f"routing decay_s must be > 0, got {self.decay_s}")
        if self.affinity_factor < 1:
            raise InvalidInput(f"routing affinity_factor must be >= 1, got {self.affinity_factor}")
        if self.batch_max < 1:
            raise InvalidInput(f"routing batch_max must be >= 1, got {self.batch_max}")
        if self.batch_max_age_s < 0:
            raise InvalidInput(f"routing batch_max_age_s must be >= 0, got {self.batch_max_age_s}")
        if self.initial_latency_ms <= 0:
            raise InvalidInput(
                f"routing initial_latency_ms must be > 0, got {self.initial_latency_ms}"
            )
        if self.resource_step <= 0:
            raise InvalidInput(f"routing resource_step must be > 0, got {self.resource_step}")

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> RoutingConfig:
        """Take ``routing_<field>`` from ``settings`` where present; ``overrides`` win."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            value = getattr(settings, f"routing_{f.name}", None)
            if value is not None:
                values[f.name] = value
        if getattr(settings, "heartbeat_ttl_s", None) and "default_ttl_s" not in values:
            values["default_ttl_s"] = settings.heartbeat_ttl_s
        values.update(overrides)
        return cls(**values)
