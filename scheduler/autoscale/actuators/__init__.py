"""Registry of actuators: a name (or ``package.module:Class``) to a class with ``from_settings``.

Classes are imported on first use, so the Kubernetes client is only loaded where it is used.
"""

from __future__ import annotations

import importlib
from typing import Any

import redis

from scheduler.autoscale.actuators.base import Actuator
from workers.errors import UnknownName
from workers.settings import Settings

#: Built-in actuators by name.
ACTUATORS: dict[str, str] = {
    "local": "scheduler.autoscale.actuators.local:LocalActuator",
    "kubernetes": "scheduler.autoscale.actuators.kubernetes:KubernetesActuator",
}

__all__ = ["ACTUATORS", "Actuator", "make_actuator", "resolve"]


def resolve(name: str) -> Any:
    """The actuator class for a registered name or a ``package.module:Class`` path."""
    path = ACTUATORS.get(name, name)
    module_name, sep, attr = path.partition(":")
    if not sep or not module_name or not attr:
        known = ", ".join(sorted(ACTUATORS))
        raise UnknownName(f"unknown actuator {name!r}; known: {known} (or package.module:Class)")
    try:
        found = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise UnknownName(f"actuator {name!r} cannot be loaded: {exc}") from None
    if not callable(getattr(found, "from_settings", None)):
        raise UnknownName(f"actuator {name!r} has no from_settings(client, settings) factory")
    return found


def make_actuator(name: str, client: redis.Redis, settings: Settings, **options: Any) -> Actuator:
    """Build the named actuator; ``options`` go to its ``from_settings``."""
    actuator: Actuator = resolve(name).from_settings(client, settings, **options)
    return actuator
