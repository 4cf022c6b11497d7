"""Provider rate limits shared by every worker: requests and tokens per window, in Redis.

An agent type may set ``rate_limit`` ("500/minute": provider calls) and ``token_rate_limit``
("200000/minute": prompt tokens plus ``max_tokens``, the most a call can use), matching how
LLM providers meter an API key. Agent types that name the same ``rate_limit_group`` (say,
one model on one key) share the buckets. A call over the limit waits for room, up to
``rate_limit_max_wait_s``, instead of failing with the provider's 429: nothing is lost and
no retry storm starts. Buckets are `limits`' sliding-window counters, one atomic Lua call
per check, so their memory stays constant however high the limit.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis
from limits import RateLimitItem, parse
from limits.storage import RedisStorage
from limits.strategies import SlidingWindowCounterRateLimiter

from workers import keys
from workers.errors import RateLimitExceeded, TransientProviderError
from workers.providers.base import Completion, CompletionRequest, Provider
from workers.settings import AgentType, Settings
from workers.tokens import count_tokens

log = logging.getLogger(__name__)

#: Longest single sleep while waiting for room: the bucket is checked again after it.
MAX_NAP_S = 1.0
#: Namespaces of the buckets: provider calls by rate-limit group, submissions by tenant.
CALLS = "calls"
SUBMISSIONS = "submissions"
#: A bucket's identifiers: (namespace, group or tenant).
Bucket = tuple[str, ...]


class RateLimited(TransientProviderError):
    """A call waited ``rate_limit_max_wait_s`` and its rate limit still had no room."""


@dataclass(frozen=True)
class Buckets:
    """The limits of one group: requests and tokens (either may be absent)."""

    group: str
    requests: RateLimitItem | None
    tokens: RateLimitItem | None

    @classmethod
    def of(cls, agent: AgentType) -> Buckets | None:
        if agent.rate_limit is None and agent.token_rate_limit is None:
            return None
        return cls(
            group=agent.rate_limit_group or agent.name,
            requests=parse(agent.rate_limit) if agent.rate_limit else None,
            tokens=parse(agent.token_rate_limit) if agent.token_rate_limit else None,
        )


class RateLimiter:
    """Checks and takes room in the shared buckets, on the system's Redis."""

    def __init__(self, client: redis.Redis, clock: Callable[[], float] = time.time) -> None:
        kwargs = client.connection_pool.connection_kwargs
        storage = RedisStorage(
            "redis://", connection_pool=redis.ConnectionPool(
                **{k: v for k, v in kwargs.items() if k != "decode_responses"}
            ), key_prefix=keys.RATE_LIMIT_PREFIX,
        )  # fmt: skip
        self._limiter = SlidingWindowCounterRateLimiter(storage)
        self._clock = clock

    def try_take(self, buckets: Buckets, tokens: int) -> float:
        """Take one request and ``tokens`` tokens if both have room: 0.0. Otherwise take
        nothing and return the seconds until the fuller bucket should have room."""
        pairs = ((buckets.requests, 1), (buckets.tokens, tokens))
        wanted = [(item, cost) for item, cost in pairs if item is not None]
        for item, cost in wanted:
            if cost > item.amount:
                raise RateLimited(
                    f"one call needs {cost} of {buckets.group}'s limit {item}: it can never fit"
                )
        return self.take_all([(item, (CALLS, buckets.group), cost) for item, cost in wanted])[0]

    def take_all(self, wanted: list[tuple[RateLimitItem, Bucket, int]]) -> tuple[float, Bucket]:
        """Take ``cost`` in each (limit, bucket, cost) if all have room: (0.0, ()). Otherwise
        the seconds until the first full one should have room, and that bucket.

        Another client may take the room between the test and the take: then the caller
        waits again. Room taken before a full bucket stays taken, which only errs on the
        side of fewer calls.
        """
        for item, bucket, cost in wanted:
            if not self._limiter.test(item, *bucket, cost=cost):
                return self._wait_for(item, bucket), bucket
        for item, bucket, cost in wanted:
            if not self._limiter.hit(item, *bucket, cost=cost):
                return self._wait_for(item, bucket), bucket
        return 0.0, ()

    def take(self, buckets: Buckets, tokens: int, max_wait_s: float) -> float:
        """Wait until there is room, then take it; seconds waited. ``RateLimited`` after
        ``max_wait_s``."""
        start = self._clock()
        while True:
            wait = self.try_take(buckets, tokens)
            if wait <= 0:
                return self._clock() - start
            left = start + max_wait_s - self._clock()
            if left <= 0:
                raise RateLimited(
                    f"rate limit of {buckets.group} still full after {max_wait_s:g} s "
                    "(rate_limit_max_wait_s)"
                )
            time.sleep(min(wait, left, MAX_NAP_S))

    def used_share(self, buckets: Buckets) -> float:
        """Share of the fuller bucket in use now, 0..1 (the autoscaler reads it)."""
        shares = []
        for item in (buckets.requests, buckets.tokens):
            if item is not None:
                stats = self._limiter.get_window_stats(item, CALLS, buckets.group)
                shares.append(1 - stats.remaining / item.amount)
        return max(shares, default=0.0)

    def _wait_for(self, item: RateLimitItem, bucket: Bucket) -> float:
        stats = self._limiter.get_window_stats(item, *bucket)
        return max(0.01, stats.reset_time - self._clock())


def used_shares(limiter: RateLimiter, settings: Settings) -> dict[str, float]:
    """Share used of every provider rate-limit group, by group name (``status``, metrics)."""
    groups = {b.group: b for a in settings.agents.values() if (b := Buckets.of(a))}
    return {name: limiter.used_share(b) for name, b in sorted(groups.items())}


#: Bucket of a tenant's submissions when untagged tasks fall under "*".
UNTAGGED = "_untagged"


def take_submissions(limiter: RateLimiter, settings: Settings, counts: dict[str, int]) -> None:
    """Take room for ``counts`` (tenant → tasks) in the tenants' submission limits;
    ``RateLimitExceeded`` names the tenant and when to retry. Callers skip this (and its
    Redis calls) when no tenant has a limit."""
    limits = settings.tenant_rate_limits
    wanted: list[tuple[RateLimitItem, Bucket, int]] = []
    for tenant, count in sorted(counts.items()):
        text = (limits.get(tenant) if tenant else None) or limits.get("*")
        if text:
            item = parse(text)
            if count > item.amount:
                raise RateLimitExceeded(
                    f"{count} tasks of tenant {tenant or '(untagged)'} can never fit its "
                    f"submission limit {item}", retry_after_s=float(item.get_expiry()),
                )  # fmt: skip
            wanted.append((item, (SUBMISSIONS, tenant or UNTAGGED), count))
    wait, full = limiter.take_all(wanted) if wanted else (0.0, ())
    if wait > 0:
        name = "(untagged)" if full[1] == UNTAGGED else full[1]
        raise RateLimitExceeded(
            f"tenant {name} is over its submission limit; retry in {wait:.1f} s",
            retry_after_s=wait,
        )


class LimitedProvider:
    """A provider whose calls first take room in their agent type's rate-limit buckets."""

    def __init__(
        self, inner: Provider, limiter: RateLimiter, buckets: Buckets, max_wait_s: float
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self.limiter = limiter
        self.buckets = buckets
        self.max_wait_s = max_wait_s

    def complete(self, request: CompletionRequest) -> Completion:
        tokens = 0
        if self.buckets.tokens is not None:
            text = f"{request.system_prompt}\n{request.prompt}"
            tokens = count_tokens(text, request.model) + request.max_tokens
        waited = self.limiter.take(self.buckets, tokens, self.max_wait_s)
        if waited > 0.05:
            log.info("rate limit of %s: waited %.2f s for room", self.buckets.group, waited)
        return self.inner.complete(request)
