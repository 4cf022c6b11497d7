"""Loading an attribute named ``"module:attribute"``: how ``workers`` mounts the scheduler's
command groups, API routers and metric collectors without importing ``scheduler`` at
module level."""

from __future__ import annotations

import importlib
from typing import Any


def load(target: str) -> Any:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)
