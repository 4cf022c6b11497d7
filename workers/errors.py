"""The package's exception hierarchy; the CLI maps each to a one-line message and exit code."""

from __future__ import annotations


class InfraMindError(Exception):
    """Base of every error this package raises on purpose."""

    #: Exit code the CLI uses for this error (see ``workers.cli.exits``).
    exit_code = 1


class InvalidInput(InfraMindError):
    """The caller handed in something we refuse (bad name, prompt, option); nothing was done."""

    exit_code = 2


class ConfigError(InvalidInput):
    """Settings or the agent-types file are invalid; the message names the field."""


class UnknownAgent(InvalidInput):
    """An agent type that is not configured; the message lists the known ones."""


class UnknownName(InvalidInput):
    """A registry lookup (provider, strategy, actuator, ...) failed; lists the known names."""


class BackendUnavailable(InfraMindError):
    """Redis or MongoDB cannot be reached at the configured URL."""

    exit_code = 3


class ProviderError(InfraMindError):
    """An LLM provider failed after its retries."""


class TransientProviderError(ProviderError):
    """A provider failure that may pass (rate limit, 5xx, network): the task is retried
    later, with backoff, instead of failing at once."""


class BudgetExceeded(InfraMindError):
    """A hard budget refuses new work; the message names the budget."""

    exit_code = 4


class RateLimitExceeded(InfraMindError):
    """A tenant's submission rate limit has no room now; ``retry_after_s`` says when."""

    exit_code = 5

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class TaskTimeout(InfraMindError):
    """A submitted task did not finish within the caller's timeout."""


class TaskCancelled(InfraMindError):
    """A task waited on was cancelled before it ran."""


class AlreadyFinished(InvalidInput):
    """A task asked to be cancelled had already finished: there is nothing left to stop."""
