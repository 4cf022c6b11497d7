"""The HTTP API: submit agent tasks, read their results, the live state of pools, metrics.

``create_api`` builds the ASGI app; ``infra-mind api`` (or ``python -m workers.api``) serves
it, and ``infra-mind up`` starts it beside the workers. Everything under ``/v1`` and
``/metrics`` needs ``Authorization: Bearer <token>``; ``/healthz`` is open for probes.
"""

from workers.api.app import create_api

__all__ = ["create_api"]
