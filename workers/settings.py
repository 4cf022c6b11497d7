"""One settings object, read once at the edge: env vars plus a TOML file of agent types.

Every field can be set by an ``INFRA_MIND_``-prefixed env var; ``REDIS_URL``, ``MONGO_URL`` and
``OPENAI_API_KEY`` are also read under their usual names.
"""

from __future__ import annotations

import tomllib
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from limits import parse as parse_limit
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from workers import defaults
from workers.cache.config import CacheConfig
from workers.errors import ConfigError, InvalidInput, UnknownAgent
from workers.names import validate_name
from workers.pricing import ModelPrice


class ScalingPolicy(BaseModel):
    """How the autoscaler sizes one pool (DESIGN §4)."""

    model_config = ConfigDict(extra="forbid")

    min: int = Field(1, ge=0, description="fewest instances (0 allows scale to zero)")
    max: int = Field(4, ge=1, le=256, description="most instances")
    target_queue_latency_s: float = Field(5.0, gt=0, description="age of the oldest message")
    target_utilization: float = Field(0.7, gt=0, le=1, description="busy ÷ capacity")
    max_step_up: int = Field(4, ge=1, description="instances added in one decision")
    max_step_down: int = Field(1, ge=1, description="instances removed in one decision")
    cooldown_up_s: float = Field(10.0, ge=0)
    cooldown_down_s: float = Field(60.0, ge=0)
    stabilization_s: float = Field(60.0, ge=0, description="scale-in window (highest wins)")
    cpu_high: float = Field(90.0, gt=0, le=100, description="CPU %% that blocks scale-in")
    memory_high: float = Field(90.0, gt=0, le=100)
    scale_to_zero: bool = False
    activation_queue_depth: int = Field(1, ge=1, description="messages that wake a zero pool")
    predictive: bool = False
    schedule_min: dict[str, int] = Field(
        default_factory=dict, description='time-of-day minimums, e.g. {"09:00-18:00" = 2}'
    )

    @model_validator(mode="after")
    def _bounds(self) -> ScalingPolicy:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        if self.min == 0 and not self.scale_to_zero:
            raise ValueError("min = 0 needs scale_to_zero = true")
        return self


class PoolConfig(BaseModel):
    """One pool: a queue and the worker instances that consume it."""

    model_config = ConfigDict(extra="forbid")

    concurrency: int = Field(defaults.POOL_CONCURRENCY, ge=1, le=256)
    weight: float | None = Field(None, gt=0, description="routing weight (default: capacity)")
    speed: float = Field(1.0, gt=0, description="simulated latency multiplier of this pool")
    scaling: ScalingPolicy | None = None


class LatencyModel(BaseModel):
    """Latency of the simulated provider: lognormal with this mean and spread."""

    model_config = ConfigDict(extra="forbid")

    mean_ms: float = Field(400.0, ge=0)
    spread_ms: float = Field(200.0, ge=0)


class AgentType(BaseModel):
    """An agent type: handler, provider/model, pools, scaling, budget and compute rate."""

    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    handler: str = "default"
    provider: str = "simulated"
    model: str = "gpt-4o-mini"
    system_prompt: str = ""
    temperature: float = Field(0.0, ge=0, le=2)
    max_tokens: int = Field(512, ge=1)
    latency: LatencyModel = Field(default_factory=LatencyModel)
    pools: dict[str, PoolConfig] = Field(default_factory=lambda: {"default": PoolConfig()})
    scaling: ScalingPolicy = Field(default_factory=ScalingPolicy)
    monthly_budget_usd: Decimal = Field(Decimal(100), ge=0)
    budget_mode: Literal["soft", "hard"] = "soft"
    hourly_rate_usd: Decimal = Field(Decimal("0.05"), ge=0)
    strategy: str = "round_robin"
    dispatch: Literal["pool", "instance"] = "pool"
    prompt_optimization: Literal["off", "auto"] = "off"
    cache_responses: bool = True
    quality: Literal["best", "balanced", "cheapest"] = Field(
        "balanced", description="best: never advise a cheaper model"
    )
    rate_limit: str | None = Field(None, description='provider calls, e.g. "500/minute"')
    token_rate_limit: str | None = Field(
        None, description='prompt plus max_tokens, e.g. "200000/minute"'
    )
    rate_limit_group: str = Field("", description="types naming one group share its buckets")

    @field_validator("rate_limit", "token_rate_limit")
    @classmethod
    def _limit(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_limit(value)
            except ValueError:
                raise ValueError(
                    f"{value!r} is not a rate limit; write it like '500/minute' or '10/second'"
                ) from None
        return value

    @field_validator("rate_limit_group")
    @classmethod
    def _group(cls, value: str) -> str:
        try:
            return validate_name("rate limit group", value) if value else value
        except InvalidInput as exc:  # pydantic then names the field
            raise ValueError(str(exc)) from None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return validate_name("agent type", value)

    @field_validator("pools")
    @classmethod
    def _pools(cls, value: dict[str, PoolConfig]) -> dict[str, PoolConfig]:
        if not value:
            raise ValueError("an agent type needs at least one pool")
        for pool in value:
            validate_name("pool", pool)
        return value

    def policy(self, pool: str) -> ScalingPolicy:
        """The pool's own scaling policy, else the agent type's."""
        return self.pools[pool].scaling or self.scaling


class TenantBudget(BaseModel):
    """A monthly budget of one tenant tag."""

    model_config = ConfigDict(extra="forbid")

    monthly_budget_usd: Decimal = Field(ge=0)
    budget_mode: Literal["soft", "hard"] = "soft"


class Settings(BaseSettings):
    """Process-wide settings; build with :func:`load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix="INFRA_MIND_", env_nested_delimiter="__", extra="ignore"
    )

    redis_url: str | None = Field(
        None,
        validation_alias=AliasChoices("INFRA_MIND_REDIS_URL", "REDIS_URL"),
        description="Redis to use; unset: `up` starts an embedded one under state_dir",
    )
    mongo_url: str | None = Field(
        None,
        validation_alias=AliasChoices("INFRA_MIND_MONGO_URL", "MONGO_URL"),
        description="MongoDB archive; unset: Redis-only mode",
    )
    mongo_db: str = Field("infra_mind", description="database of the archive")
    agents_file: Path | None = Field(None, description="TOML file of agent types")
    state_dir: Path = Field(Path(".infra-mind"), description="embedded Redis data, URLs, pids")
    max_prompt_bytes: int = Field(defaults.MAX_PROMPT_BYTES, ge=1)
    heartbeat_interval_s: float = Field(defaults.HEARTBEAT_INTERVAL_S, gt=0)
    heartbeat_ttl_s: float = Field(defaults.HEARTBEAT_TTL_S, gt=0)
    task_time_limit_s: int = Field(defaults.TASK_TIME_LIMIT_S, ge=1)
    result_expires_s: int = Field(defaults.RESULT_EXPIRES_S, ge=60)
    events_maxlen: int = Field(defaults.EVENTS_MAXLEN, ge=1000)
    worker_pool: Literal["threads", "prefork", "solo"] = Field(
        "threads", description="Celery pool of agent instances (threads: I/O-bound LLM calls)"
    )
    shutdown_grace_s: float = Field(defaults.SHUTDOWN_GRACE_S, gt=0)
    task_max_retries: int = Field(
        3, ge=0, le=20, description="retries of a task whose provider failed transiently"
    )
    task_retry_base_s: float = Field(5.0, gt=0, description="first retry delay; doubles each time")
    task_retry_max_s: float = Field(
        300.0, gt=0, description="longest retry delay (kept under the visibility timeout)"
    )
    rate_limit_max_wait_s: float = Field(
        60.0, ge=0, description="longest a provider call waits for room in its rate limit"
    )
    log_level: str = "INFO"
    flower_address: str = "127.0.0.1"
    flower_port: int = Field(5555, ge=1, le=65535)
    flower_user: str = "admin"
    flower_password: SecretStr | None = Field(
        None, description="unset: generated once and kept in state_dir/flower-password"
    )
    api_address: str = "127.0.0.1"
    api_port: int = Field(8000, ge=1, le=65535)
    api_token: SecretStr | None = Field(
        None, description="bearer token of the HTTP API; unset: generated in state_dir/api-token"
    )
    api_max_wait_s: float = Field(60.0, gt=0, description="longest result long-poll allowed")
    api_max_body_bytes: int = Field(
        16 * 1024 * 1024, ge=1024, description="larger request bodies are refused with 413"
    )
    openai_base_url: str = "https://api.openai.com/v1"
    openai_api_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("INFRA_MIND_OPENAI_API_KEY", "OPENAI_API_KEY")
    )
    openai_timeout_s: float = Field(60.0, gt=0)
    openai_max_retries: int = Field(3, ge=0, le=10)
    tokenizer_download: bool = Field(
        False, description="allow tiktoken to download a model's own encoding"
    )
    autoscale_interval_s: float = Field(5.0, gt=0)
    snapshot_interval_s: float = Field(15.0, gt=0)
    slow_query_interval_s: float = Field(300.0, gt=0)
    cache_promotion_interval_s: float = Field(60.0, gt=0)
    prompt_batch_interval_s: float = Field(900.0, gt=0)
    rollup_interval_s: float = Field(60.0, gt=0)
    reconcile_interval_s: float = Field(30.0, gt=0)
    slow_query_threshold_ms: float = Field(100.0, gt=0, description="p95 above this is slow")
    slow_query_log_files: list[Path] = Field(
        default_factory=list, description="mongod JSON logs the slow-query job follows"
    )
    slow_query_profile_dbs: list[str] = Field(
        default_factory=list, description="databases on MONGO_URL whose system.profile is read"
    )
    slow_query_explain: bool = Field(True, description="confirm plans with explain")
    slow_query_max_shapes: int = Field(5000, ge=1, description="shapes kept between runs")
    routing_decay_s: float = Field(10.0, gt=0, description="peak-EWMA latency time constant")
    routing_affinity_factor: float = Field(1.25, ge=1, description="bounded-load factor")
    routing_batch_max: int = Field(64, ge=1, description="decisions one producer reserves")
    routing_batch_max_age_s: float = Field(0.1, ge=0, description="unused picks handed back")
    routing_resource_step: float = Field(10.0, gt=0, description="CPU/memory %% steps")
    routing_initial_latency_ms: float = Field(500.0, gt=0, description="estimate of a new target")
    cache: CacheConfig = Field(
        default_factory=CacheConfig,
        description="tiered cache; env INFRA_MIND_CACHE__<FIELD>, e.g. ..._CACHE__L1_CAPACITY",
    )
    prompt_sample_size: int = Field(50, ge=1, description="recent prompts per batch and type")
    prompt_recent_keep: int = Field(200, ge=1, description="recent prompts kept per type")
    prompt_versions_keep: int = Field(20, ge=1, description="template versions kept per type")
    prompt_language: str = Field("en", description="phrase lists of the prompt optimizer")
    price_overrides: dict[str, ModelPrice] = Field(
        default_factory=dict, description="USD per million tokens by model; wins over genai-prices"
    )
    tenant_budgets: dict[str, TenantBudget] = Field(
        default_factory=dict, description='e.g. {"acme": {"monthly_budget_usd": 50}}'
    )
    tenant_rate_limits: dict[str, str] = Field(
        default_factory=dict,
        description='submissions per tenant, e.g. {"acme": "100/minute", "*": "20/second"}; '
        '"*" gives every other tenant (and untagged tasks) a bucket of its own',
    )
    budget_thresholds: tuple[int, ...] = Field((50, 80, 100), description="alert at these %%")
    budget_webhook_url: str | None = Field(None, description="POSTed once per budget alert")
    cost_run_rate_days: int = Field(7, ge=1, description="window of the month-end projection")
    rollup_batch: int = Field(2000, ge=1, description="events per rollup read")
    rollup_claim_idle_s: float = Field(60.0, gt=0, description="reclaim a dead consumer's events")
    idle_efficiency_threshold: float = Field(0.3, ge=0, le=1, description="below: idle capacity")
    task_records_retention_days: int = Field(90, ge=1)
    resource_snapshots_retention_days: int = Field(30, ge=1)
    autoscale_actuator: str = Field(
        "local", description="local (the `up` supervisor), kubernetes, or package.module:Class"
    )
    kubernetes_namespace: str | None = Field(
        None, description="namespace of the Deployments (unset: the pod's own, else default)"
    )
    kubernetes_deployment_pattern: str = Field(
        "infra-mind-{type}-{pool}", description="Deployment name of a pool"
    )

    agents: dict[str, AgentType] = Field(default_factory=dict, exclude=True)

    @field_validator("tenant_rate_limits")
    @classmethod
    def _tenant_limits(cls, value: dict[str, str]) -> dict[str, str]:
        for tenant, limit in value.items():
            if tenant != "*":
                try:
                    validate_name("tenant", tenant)
                except InvalidInput as exc:
                    raise ValueError(str(exc)) from None
            try:
                parse_limit(limit)
            except ValueError:
                raise ValueError(
                    f"{tenant}: {limit!r} is not a rate limit; write it like '100/minute'"
                ) from None
        return value

    def agent(self, name: str) -> AgentType:
        """The agent type called ``name``; raises ``UnknownAgent`` listing the known ones."""
        try:
            return self.agents[name]
        except (KeyError, TypeError):
            known = ", ".join(sorted(self.agents))
            raise UnknownAgent(f"unknown agent type {name!r}; known: {known}") from None

    def pools(self) -> list[tuple[AgentType, str]]:
        """Every (agent type, pool name) pair in a stable order."""
        return [(a, p) for a in self.agents.values() for p in a.pools]


def _field_path(error: dict[str, Any]) -> str:
    return ".".join(str(part) for part in error["loc"]) or "(root)"


def _describe(exc: ValidationError, where: str) -> ConfigError:
    err = exc.errors()[0]
    msg = str(err["msg"]).removeprefix("Value error, ")
    return ConfigError(f"{where}: {_field_path(err)}: {msg}")


def parse_agents(text: str, source: str) -> dict[str, AgentType]:
    """Parse an agent-types TOML document; errors name the file and the field."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: invalid TOML: {exc}") from None
    unknown = set(doc) - {"agents"}
    if unknown:
        raise ConfigError(f"{source}: unknown top-level table(s): {', '.join(sorted(unknown))}")
    table = doc.get("agents")
    if not isinstance(table, dict) or not table:
        raise ConfigError(f"{source}: no [agents.<name>] tables")
    agents: dict[str, AgentType] = {}
    for name, body in table.items():
        if not isinstance(body, dict):
            raise ConfigError(f"{source}: agents.{name}: expected a table")
        try:
            agents[name] = AgentType(name=name, **body)
        except ValidationError as exc:
            raise _describe(exc, f"{source}: agents.{name}") from None
        except InvalidInput as exc:  # a name check inside a validator
            raise ConfigError(f"{source}: agents.{name}: {exc}") from None
    return agents


def default_agents_text() -> str:
    return resources.files("workers").joinpath("agents.default.toml").read_text("utf-8")


def load_settings(**overrides: Any) -> Settings:
    """Read env vars and the agent-types file; raise ``ConfigError`` naming the bad field."""
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigError(
            f"invalid setting {_field_path(err)} (env INFRA_MIND_{_field_path(err).upper()}): "
            f"{err['msg']}"
        ) from None
    if not settings.agents:
        if settings.agents_file is not None:
            path = settings.agents_file
            try:
                text = path.read_text("utf-8")
            except OSError as exc:
                raise ConfigError(f"agents file {path}: {exc.strerror}") from None
            settings.agents = parse_agents(text, str(path))
        else:
            settings.agents = parse_agents(default_agents_text(), "default agent types")
    return settings
