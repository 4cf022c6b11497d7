import pytest

from tests.openai_stub import openai_stub
from workers.errors import ProviderError
from workers.providers import CompletionRequest, make_provider
from workers.providers.openai import OpenAIProvider
from workers.providers.simulated import SimulatedProvider, lognormal_ms
from workers.settings import load_settings
from workers.tokens import count_tokens


def test_simulated_is_deterministic_and_counts_real_tokens() -> None:
    provider = SimulatedProvider(sleep=False)
    request = CompletionRequest(
        model="gpt-4o", prompt="Plan the migration", system_prompt="Be brief"
    )
    first, second = provider.complete(request), provider.complete(request)
    assert first == second
    assert first.prompt_tokens == count_tokens("Be brief\nPlan the migration", "gpt-4o")
    assert first.completion_tokens == count_tokens(first.text, "gpt-4o")
    other = provider.complete(CompletionRequest(model="gpt-4o", prompt="Something else"))
    assert other.text != first.text


def test_lognormal_latency_has_the_configured_mean() -> None:
    import random

    rng = random.Random(7)
    samples = [lognormal_ms(100, 100, rng) for _ in range(20000)]
    mean = sum(samples) / len(samples)
    assert 95 < mean < 105
    assert lognormal_ms(0, 10, rng) == 0.0


def test_unknown_provider_lists_known() -> None:
    with pytest.raises(Exception, match="unknown provider 'gemini'; known: openai, simulated"):
        make_provider("gemini", load_settings())


def test_openai_provider_against_stub_server() -> None:
    with openai_stub() as (url, state):
        provider = make_provider(
            "openai", load_settings(openai_base_url=url, openai_api_key="sk-test")
        )
        out = provider.complete(
            CompletionRequest(model="gpt-4o-mini", prompt="ping", system_prompt="sys")
        )
    assert out.text == "echo: ping"
    assert (out.prompt_tokens, out.completion_tokens, out.cached_tokens) == (11, 7, 4)
    sent = state.requests[0]
    assert sent["auth"] == "Bearer sk-test"
    assert sent["body"]["messages"] == [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "ping"},
    ]


def test_openai_provider_retries_transient_errors() -> None:
    with openai_stub() as (url, state):
        state.failures = [429, 503]
        provider = OpenAIProvider(url, "k", timeout_s=5, max_retries=3)
        out = provider.complete(CompletionRequest(model="gpt-4o-mini", prompt="retry me"))
    assert out.text == "echo: retry me"
    assert len(state.requests) == 3


def test_openai_provider_gives_up_with_a_clear_error() -> None:
    with openai_stub() as (url, state):
        state.failures = [500, 500, 500]
        provider = OpenAIProvider(url, "k", timeout_s=5, max_retries=2)
        with pytest.raises(ProviderError, match="openai: HTTP 500"):
            provider.complete(CompletionRequest(model="gpt-4o-mini", prompt="x"))
    assert len(state.requests) == 3


def test_openai_provider_does_not_retry_client_errors() -> None:
    with openai_stub() as (url, state):
        state.failures = [401]
        provider = OpenAIProvider(url, "bad", timeout_s=5, max_retries=3)
        with pytest.raises(ProviderError, match="HTTP 401"):
            provider.complete(CompletionRequest(model="gpt-4o-mini", prompt="x"))
    assert len(state.requests) == 1
