"""Agent handlers by name: the TOML's ``handler = "..."`` picks one; a decorator adds one."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from workers.errors import UnknownName

if TYPE_CHECKING:
    from workers.agents.handler import AgentContext, AgentRequest, AgentResult

Handler = Callable[["AgentContext", "AgentRequest"], "AgentResult"]

HANDLERS: dict[str, Handler] = {}


def agent_handler(name: str) -> Callable[[Handler], Handler]:
    """Register a handler under ``name`` (``handler = "<name>"`` in the agent-types file).

    A handler gets the context (settings, agent type, Redis, provider, cache) and the request,
    and returns an :class:`~workers.agents.handler.AgentResult`; the task around it times,
    prices and records it.
    """

    def register(func: Handler) -> Handler:
        HANDLERS[name] = func
        return func

    return register


def resolve_handler(name: str) -> Handler:
    """The handler registered as ``name``, or ``module:function`` loaded by dotted path."""
    if name in HANDLERS:
        return HANDLERS[name]
    if ":" in name:
        module, _, attr = name.partition(":")
        try:
            importlib.import_module(module)
            if name in HANDLERS:
                return HANDLERS[name]
            return getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise UnknownName(f"agent handler {name!r} cannot be loaded: {exc}") from None
    raise UnknownName(f"unknown agent handler {name!r}; known: {', '.join(sorted(HANDLERS))}")
