"""What the agent handler asks of the prompt store: the template to send, and a sample."""

from __future__ import annotations

import redis

from workers.prompts.store import record_prompt, template_for
from workers.settings import AgentType


class StoredPrompts:
    """Serves optimized templates and records prompts for the ``optimize_prompts`` batch.

    Prompts are recorded only for agent types with ``prompt_optimization = "auto"``: user
    prompts are kept in Redis only where the owner asked for optimization.
    """

    def __init__(self, client: redis.Redis, max_bytes: int, keep: int) -> None:
        self.client = client
        self.max_bytes = max_bytes
        self.keep = keep

    def template(self, agent: AgentType) -> str:
        return template_for(self.client, agent)

    def record(self, agent: AgentType, prompt: str) -> None:
        if agent.prompt_optimization == "auto":
            record_prompt(self.client, agent.name, prompt, keep=self.keep, max_bytes=self.max_bytes)
