"""Agent handlers: the registry, the decorator and the default handler."""

from workers.agents.handler import (
    AgentContext,
    AgentRequest,
    AgentResult,
    default_handler,
)
from workers.agents.registry import HANDLERS, agent_handler, resolve_handler

__all__ = [
    "HANDLERS",
    "AgentContext",
    "AgentRequest",
    "AgentResult",
    "agent_handler",
    "default_handler",
    "resolve_handler",
]
