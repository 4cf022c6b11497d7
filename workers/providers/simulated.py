"""A deterministic stand-in for an LLM: same prompt, same text; latency from a lognormal model.

It makes ``make run`` and the tests work with no network while exercising everything else
for real: token counting, pricing, events, queues, scaling.
"""

from __future__ import annotations

import hashlib
import math
import random
import time

from workers.providers.base import Completion, CompletionRequest
from workers.tokens import count_tokens

_WORDS = (
    "architecture scaling latency budget queue worker cache region cluster service "
    "throughput reliability compliance policy deployment model pipeline cost risk "
    "migration observability capacity tenant contract report finding recommendation"
).split(" ")


def lognormal_ms(mean_ms: float, spread_ms: float, rng: random.Random) -> float:
    """A lognormal sample with the given mean and standard deviation (milliseconds)."""
    if mean_ms <= 0:
        return 0.0
    if spread_ms <= 0:
        return mean_ms
    sigma2 = math.log1p((spread_ms / mean_ms) ** 2)
    mu = math.log(mean_ms) - sigma2 / 2
    return rng.lognormvariate(mu, math.sqrt(sigma2))


class SimulatedProvider:
    name = "simulated"

    def __init__(self, sleep: bool = True) -> None:
        self._sleep = sleep

    def complete(self, request: CompletionRequest) -> Completion:
        seed = hashlib.sha256(f"{request.model}\0{request.prompt}".encode()).digest()
        rng = random.Random(seed)
        n_words = 12 + rng.randrange(0, 48)
        n_words = min(n_words, max(1, request.max_tokens // 2))
        body = " ".join(rng.choice(_WORDS) for _ in range(n_words))
        text = f"[{request.model}] {body}."
        if self._sleep:
            # Latency varies per call (not per prompt) so load behaves like a real service.
            rng = random.Random()
            delay = lognormal_ms(request.latency_mean_ms, request.latency_spread_ms, rng)
            time.sleep(delay * request.speed / 1000.0)
        prompt_text = request.prompt
        if request.system_prompt:
            prompt_text = f"{request.system_prompt}\n{request.prompt}"
        return Completion(
            text=text,
            model=request.model,
            prompt_tokens=count_tokens(prompt_text, request.model),
            completion_tokens=count_tokens(text, request.model),
        )
