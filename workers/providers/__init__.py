"""Provider registry: a name (or a dotted path ``pkg.mod:Class``) to a provider factory."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from workers.errors import UnknownName
from workers.providers.base import Completion, CompletionRequest, Provider
from workers.providers.openai import OpenAIProvider
from workers.providers.simulated import SimulatedProvider
from workers.settings import Settings

ProviderFactory = Callable[[Settings], Provider]

PROVIDERS: dict[str, ProviderFactory] = {
    "simulated": lambda settings: SimulatedProvider(),
    "openai": lambda settings: OpenAIProvider(
        base_url=settings.openai_base_url,
        api_key=settings.openai_api_key.get_secret_value() if settings.openai_api_key else None,
        timeout_s=settings.openai_timeout_s,
        max_retries=settings.openai_max_retries,
    ),
}


def make_provider(name: str, settings: Settings) -> Provider:
    """Build the provider called ``name``; a dotted ``module:attr`` loads a user factory."""
    if name in PROVIDERS:
        return PROVIDERS[name](settings)
    if ":" in name:
        module, _, attr = name.partition(":")
        try:
            factory = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise UnknownName(f"provider {name!r} cannot be loaded: {exc}") from None
        return factory(settings)
    raise UnknownName(f"unknown provider {name!r}; known: {', '.join(sorted(PROVIDERS))}")


__all__ = ["PROVIDERS", "Completion", "CompletionRequest", "Provider", "make_provider"]
