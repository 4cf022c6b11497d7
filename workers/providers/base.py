"""The LLM provider interface: one small Protocol, one file per implementation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class CompletionRequest:
    """One chat-completion call: a system prompt, the user prompt and sampling parameters."""

    model: str
    prompt: str
    system_prompt: str = ""
    temperature: float = 0.0
    max_tokens: int = 512
    #: Simulated latency model (the simulated provider only).
    latency_mean_ms: float = 0.0
    latency_spread_ms: float = 0.0
    speed: float = 1.0


@dataclass(frozen=True, slots=True)
class Completion:
    """The provider's answer with the token usage it reported (or we counted)."""

    text: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0
    extra: dict[str, str] = field(default_factory=dict)


class Provider(Protocol):
    """Turns a request into a completion; raises ``ProviderError`` after its own retries."""

    name: str

    def complete(self, request: CompletionRequest) -> Completion: ...
