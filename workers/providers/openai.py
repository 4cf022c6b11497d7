"""Any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, Ollama, LiteLLM, ...)."""

from __future__ import annotations

import httpx
from tenacity import (
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from workers.errors import ProviderError, TransientProviderError
from workers.providers.base import Completion, CompletionRequest
from workers.tokens import count_tokens

#: HTTP statuses worth retrying: rate limits and transient server errors.
RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code in RETRYABLE_STATUS
    return isinstance(exc, httpx.TransportError)


def _prompt_text(request: CompletionRequest) -> str:
    return f"{request.system_prompt}\n{request.prompt}" if request.system_prompt else request.prompt


class OpenAIProvider:
    name = "openai"

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        timeout_s: float = 60.0,
        max_retries: int = 3,
        client: httpx.Client | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = client or httpx.Client(
            base_url=base_url.rstrip("/"), headers=headers, timeout=timeout_s
        )
        self._max_retries = max_retries

    def complete(self, request: CompletionRequest) -> Completion:
        messages = []
        if request.system_prompt:
            messages.append({"role": "system", "content": request.system_prompt})
        messages.append({"role": "user", "content": request.prompt})
        payload = {
            "model": request.model,
            "messages": messages,
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
        }
        retrying = Retrying(
            stop=stop_after_attempt(self._max_retries + 1),
            wait=wait_random_exponential(multiplier=0.2, max=5.0),
            retry=retry_if_exception(_retryable),
            reraise=True,
        )
        try:
            data = retrying(self._post, payload)
        except httpx.HTTPStatusError as exc:
            kind = TransientProviderError if _retryable(exc) else ProviderError
            raise kind(f"openai: HTTP {exc.response.status_code} from {exc.request.url}") from None
        except httpx.HTTPError as exc:
            kind = TransientProviderError if _retryable(exc) else ProviderError
            raise kind(f"openai: {type(exc).__name__}: {exc}") from None
        return self._parse(data, request)

    def _post(self, payload: dict[str, object]) -> dict[str, object]:
        response = self._client.post("/chat/completions", json=payload)
        response.raise_for_status()
        return response.json()

    @staticmethod
    def _parse(data: dict[str, object], request: CompletionRequest) -> Completion:
        try:
            text = data["choices"][0]["message"]["content"] or ""  # type: ignore[index]
        except (KeyError, IndexError, TypeError):
            raise ProviderError("openai: response has no choices[0].message.content") from None
        usage = data.get("usage") or {}
        assert isinstance(usage, dict)
        details = usage.get("prompt_tokens_details")
        if not isinstance(details, dict):
            details = {}
        prompt_tokens = usage.get("prompt_tokens")
        if prompt_tokens is None:
            prompt_tokens = count_tokens(_prompt_text(request), request.model)
        completion_tokens = usage.get("completion_tokens")
        if completion_tokens is None:
            completion_tokens = count_tokens(str(text), request.model)
        return Completion(
            text=str(text),
            model=str(data.get("model") or request.model),
            prompt_tokens=int(prompt_tokens),
            completion_tokens=int(completion_tokens),
            cached_tokens=int(details.get("cached_tokens") or 0),
        )
