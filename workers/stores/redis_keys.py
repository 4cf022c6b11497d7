"""Redis keys of the cost rollups, budgets and resource history.

Labels (hour ``2025-05-01T13``, day ``2025-05-01``, month ``2025-05``) are UTC bucket starts.
"""

from __future__ import annotations

from workers.keys import PREFIX

#: Consumer group of the cost rollup on the events stream.
ROLLUP_GROUP = "rollup"
#: Stream of events the rollup could not parse (kept for inspection, trimmed).
EVENTS_INVALID = f"{PREFIX}:events:invalid"
#: Stream of budget alerts (50/80/100 % of a monthly budget), one entry per alert.
BUDGET_ALERTS = f"{PREFIX}:budget:alerts"
#: Hash: budget scope ("agent:cto", "tenant:acme") -> pico-dollars reserved by running calls.
BUDGET_RESERVED = f"{PREFIX}:budget:reserved"
#: Hash: reservation id -> "expiry_ms|pico|scope,scope|state" of calls in flight.
BUDGET_RESERVATIONS = f"{PREFIX}:budget:reservations"
#: Hash: instance -> epoch seconds up to which its provisioned time has been counted.
RESOURCE_ACCOUNTED = f"{PREFIX}:res:accounted"
#: String: JSON of the latest resource report (instances, pools, hosts, trends, advice).
RESOURCE_LATEST = f"{PREFIX}:res:latest"


def rollup_hash(period: str, label: str, dim: str) -> str:
    """Hash of one bucket and dimension; fields ``<key>|<metric>`` -> integer."""
    return f"{PREFIX}:costs:{period}:{label}:{dim}"


def rollup_seen(day: str) -> str:
    """Set of (digested) task ids rolled up on ``day`` (processing day), for deduplication."""
    return f"{PREFIX}:costs:seen:{day}"


def budget_spent(month: str) -> str:
    """Hash: budget scope -> pico-dollars spent in ``month`` (reconciled calls)."""
    return f"{PREFIX}:budget:spent:{month}"


def budget_alerted(month: str) -> str:
    """Hash: ``<scope>:<threshold>`` -> epoch seconds the alert fired in ``month``."""
    return f"{PREFIX}:budget:alerted:{month}"


def resource_history(kind: str, name: str) -> str:
    """Sorted set of JSON samples of one pool or host, scored by epoch seconds."""
    return f"{PREFIX}:res:hist:{kind}:{name}"


def resource_provisioned(hour: str) -> str:
    """Hash: pool id -> provisioned instance-ms / slot-ms (``<pool>|instance_ms``) in ``hour``."""
    return f"{PREFIX}:res:prov:{hour}"
