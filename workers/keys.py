"""Every Redis key and queue name the system uses, built in one place from validated names."""

from __future__ import annotations

from workers.errors import InvalidInput
from workers.names import validate_name

PREFIX = "im"

#: Stream of finished-task events (one entry per task), consumed by the cost rollup.
EVENTS_STREAM = f"{PREFIX}:events"
#: Sorted set of worker instance names scored by their last heartbeat time (epoch seconds).
INSTANCES = f"{PREFIX}:instances"
#: Hash: target queue -> tasks routed there and not yet finished.
INFLIGHT = f"{PREFIX}:inflight"
#: Queue of the maintenance worker (scheduler jobs).
MAINTENANCE_QUEUE = "maintenance"
#: Prefix of every agent queue.
AGENT_QUEUE_PREFIX = "agent"


def pool_queue(agent_type: str, pool: str) -> str:
    """Queue consumed by every instance of one pool: ``agent.<type>.<pool>``."""
    return f"{AGENT_QUEUE_PREFIX}.{pool_id(agent_type, pool)}"


def pool_id(agent_type: str, pool: str) -> str:
    """Short identifier of a pool used in keys and tables: ``<type>.<pool>``."""
    return f"{validate_name('agent type', agent_type)}.{validate_name('pool', pool)}"


def instance_name(agent_type: str, pool: str, index: int, host: str) -> str:
    """Celery hostname of one worker instance: ``<type>.<pool>.<n>@<host>``."""
    return f"{pool_id(agent_type, pool)}.{index}@{host}"


def parse_instance(name: str) -> tuple[str, str, int] | None:
    """Split ``<type>.<pool>.<n>@<host>`` into (type, pool, n); None for other workers."""
    node = name.split("@", 1)[0]
    parts = node.split(".")
    if len(parts) != 3 or not parts[2].isdigit():
        return None
    return parts[0], parts[1], int(parts[2])


def heartbeat(instance: str) -> str:
    """Hash with an instance's latest heartbeat; expires when the instance stops beating."""
    return f"{PREFIX}:hb:{instance}"


def desired_instances(agent_type: str, pool: str) -> str:
    """Desired instance count of a pool, written by the autoscaler, read by the supervisor."""
    return f"{PREFIX}:scale:desired:{pool_id(agent_type, pool)}"


def priority_queue_keys(queue: str, steps: tuple[int, ...] = (0, 3, 6, 9)) -> list[str]:
    """The Redis lists behind one Celery queue, highest priority first.

    Kombu's Redis transport keeps one list per priority step: the plain name for step 0 and
    ``<queue>\\x06\\x16<step>`` for the others.
    """
    return [queue if step == 0 else f"{queue}\x06\x16{step}" for step in steps]


# -- autoscaler ------------------------------------------------------------------------
#: Lock held while one autoscale run decides (SET NX PX with a random token).
SCALE_LOCK = f"{PREFIX}:scale:lock"
#: Epoch seconds of the last completed autoscale run; duplicate beats within an interval skip.
SCALE_LAST_RUN = f"{PREFIX}:scale:last-run"


def scale_samples(agent_type: str, pool: str) -> str:
    """List of recent signal samples of a pool (JSON, newest first) for rates and trend."""
    return f"{PREFIX}:scale:samples:{pool_id(agent_type, pool)}"


def scale_decisions(agent_type: str, pool: str) -> str:
    """List of recent decisions of a pool (JSON, newest first), bounded."""
    return f"{PREFIX}:scale:decisions:{pool_id(agent_type, pool)}"


def scale_policy_override(agent_type: str, pool: str) -> str:
    """JSON object of scaling-policy fields set at runtime with ``scale set``."""
    return f"{PREFIX}:scale:policy:{pool_id(agent_type, pool)}"


def scale_boot_times(agent_type: str, pool: str) -> str:
    """List of recently measured worker boot times of a pool (seconds, newest first)."""
    return f"{PREFIX}:scale:boot:{pool_id(agent_type, pool)}"


# -- slow-query analysis ---------------------------------------------------------------
#: Stream of command samples from the pymongo listener, read by the slow-query job.
QUERY_SAMPLES_STREAM = f"{PREFIX}:queries:samples"
#: Hash: input (log file, profiled database, stream) -> where the next job run resumes.
QUERY_OFFSETS = f"{PREFIX}:queries:offsets"
#: Hash: shape id -> accumulated per-shape statistics (JSON).
QUERY_SHAPE_STATS = f"{PREFIX}:queries:stats"
#: String: the latest insights report (JSON), read by the CLI.
QUERY_INSIGHTS = f"{PREFIX}:queries:insights"
#: Lock held by one run of the slow-query job at a time.
QUERY_JOB_LOCK = f"{PREFIX}:queries:lock"


# -- cost rollups, budgets and resource history ------------------------------------------
# Labels (hour ``2025-05-01T13``, day ``2025-05-01``, month ``2025-05``) are UTC bucket starts.
#: Consumer group of the cost rollup on the events stream.
ROLLUP_GROUP = "rollup"
#: Stream of events the rollup could not parse (kept for inspection, trimmed).
EVENTS_INVALID = f"{PREFIX}:events:invalid"
#: Stream of budget alerts (50/80/100 % of a monthly budget), one entry per alert.
BUDGET_ALERTS = f"{PREFIX}:budget:alerts"
#: Hash: budget scope ("agent:cto", "tenant:acme") -> pico-dollars reserved by running calls.
BUDGET_RESERVED = f"{PREFIX}:budget:reserved"
#: Hash: reservation id -> "expiry_ms|pico|scope,scope|state" of calls in flight.
BUDGET_RESERVATIONS = f"{PREFIX}:budget:reservations"
#: Hash: instance -> epoch seconds up to which its provisioned time has been counted.
RESOURCE_ACCOUNTED = f"{PREFIX}:res:accounted"
#: String: JSON of the latest resource report (instances, pools, hosts, trends, advice).
RESOURCE_LATEST = f"{PREFIX}:res:latest"


def rollup_hash(period: str, label: str, dim: str) -> str:
    """Hash of one bucket and dimension; fields ``<key>|<metric>`` -> integer."""
    return f"{PREFIX}:costs:{period}:{label}:{dim}"


def rollup_field(key: str, metric: str) -> str:
    """Field of one metric of one key (agent type, pool, model, tenant) in a rollup hash."""
    return f"{key.replace('|', '_')}|{metric}"


def rollup_seen(day: str) -> str:
    """Set of (digested) task ids rolled up on ``day`` (processing day), for deduplication."""
    return f"{PREFIX}:costs:seen:{day}"


def budget_spent(month: str) -> str:
    """Hash: budget scope -> pico-dollars spent in ``month`` (reconciled calls)."""
    return f"{PREFIX}:budget:spent:{month}"


def budget_alerted(month: str) -> str:
    """Hash: ``<scope>:<threshold>`` -> epoch seconds the alert fired in ``month``."""
    return f"{PREFIX}:budget:alerted:{month}"


def resource_history(kind: str, name: str) -> str:
    """Sorted set of JSON samples of one pool or host, scored by epoch seconds."""
    return f"{PREFIX}:res:hist:{kind}:{name}"


def resource_provisioned(hour: str) -> str:
    """Hash: pool id -> provisioned instance-ms / slot-ms (``<pool>|instance_ms``) in ``hour``."""
    return f"{PREFIX}:res:prov:{hour}"


# -- tiered cache -----------------------------------------------------------------------
CACHE_PREFIX = f"{PREFIX}:cache"

#: Hash: cache key -> "<count>:<epoch>", a read counter halved once per decay period.
CACHE_FREQ = f"{CACHE_PREFIX}:freq"
#: Set: the hot keys every worker keeps pinned in its in-process tier.
CACHE_HOT_SET = f"{CACHE_PREFIX}:hot"
#: Sorted set: cache_cold key -> time it was demoted (epoch seconds); the job evicts past the TTL.
CACHE_COLD_INDEX = f"{CACHE_PREFIX}:cache_cold"
#: Pub/sub channel: invalidations on write and hot-set changes (msgpack messages).
CACHE_EVENTS_CHANNEL = f"{CACHE_PREFIX}:events"
#: Stream of access batches, replayed by the promotion job through the capacity policy.
CACHE_ACCESS_LOG = f"{CACHE_PREFIX}:access"
#: The capacity policy's state (msgpack), rewritten by each promotion run.
CACHE_POLICY_STATE = f"{CACHE_PREFIX}:policy"
#: Hash: promotion bookkeeping (last replayed stream id, hot-set version, last run).
CACHE_META = f"{CACHE_PREFIX}:meta"
#: Hash: counters (hits, misses, promotions, ...) summed over every process.
CACHE_METRICS = f"{CACHE_PREFIX}:metrics"
#: List: the most recent loader durations in milliseconds, newest first.
CACHE_LOAD_TIMES = f"{CACHE_PREFIX}:load_ms"
#: Lock that keeps two promotion runs from interleaving.
CACHE_PROMOTION_LOCK = f"{CACHE_PREFIX}:promotion:lock"

#: Longest cache key: keys land inside Redis keys and pub/sub messages.
MAX_CACHE_KEY_LENGTH = 250


def validate_cache_key(key: object) -> str:
    """Return ``key`` if it is a usable cache key, else raise ``InvalidInput``.

    Keys are 1-250 printable ASCII characters without spaces, so they can be logged, sent in
    a message and embedded in a Redis key without escaping.
    """
    if (
        not isinstance(key, str)
        or not 0 < len(key) <= MAX_CACHE_KEY_LENGTH
        or not key.isascii()
        or not key.isprintable()
        or " " in key
    ):
        raise InvalidInput(
            f"invalid cache key {key!r}: use 1-{MAX_CACHE_KEY_LENGTH} printable ASCII characters "
            "without spaces"
        )
    return key


def cache_warm(key: str) -> str:
    """Serialized value in the cache_warm tier (normal TTL)."""
    return f"{CACHE_PREFIX}:w:{key}"


def cache_cold(key: str) -> str:
    """Compressed value in the cache_cold tier (short TTL)."""
    return f"{CACHE_PREFIX}:c:{key}"


def cache_load_lock(key: str) -> str:
    """Short lock held by the one process that runs the loader for ``key``."""
    return f"{CACHE_PREFIX}:lock:{key}"


def cache_related(key: str) -> str:
    """Set of keys declared cache_related to ``key`` (prefetched when ``key`` is read)."""
    return f"{CACHE_PREFIX}:rel:{key}"


# -- prompt optimization ----------------------------------------------------------------
#: Set of agent types that have prompt versions or batch totals.
PROMPT_AGENTS = f"{PREFIX}:prompts:agents"
#: Hash describing the last ``optimize_prompts`` run (time and JSON summary).
PROMPT_BATCH = f"{PREFIX}:prompts:batch"
#: Lock held while an ``optimize_prompts`` run is in progress.
PROMPT_BATCH_LOCK = f"{PREFIX}:prompts:batch-lock"


def prompt_recent(agent_type: str) -> str:
    """List of recent prompts of an agent type, newest first (JSON entries, bounded)."""
    return f"{PREFIX}:prompts:recent:{validate_name('agent type', agent_type)}"


def prompt_seq(agent_type: str) -> str:
    """Counter numbering the prompts recorded for an agent type."""
    return f"{PREFIX}:prompts:seq:{validate_name('agent type', agent_type)}"


def prompt_template(agent_type: str) -> str:
    """Hash of the newest optimized template version: version, fingerprint, doc (JSON)."""
    return f"{PREFIX}:prompts:template:{validate_name('agent type', agent_type)}"


def prompt_versions(agent_type: str) -> str:
    """List of template versions, newest first (JSON, bounded)."""
    return f"{PREFIX}:prompts:versions:{validate_name('agent type', agent_type)}"


def prompt_stats(agent_type: str) -> str:
    """Hash of batch totals of an agent type plus the sample cursor."""
    return f"{PREFIX}:prompts:stats:{validate_name('agent type', agent_type)}"


# -- provider rate limits ------------------------------------------------------------------
#: Prefix of the sliding-window buckets of ``workers.rate_limits`` (one per group and limit).
RATE_LIMIT_PREFIX = f"{PREFIX}:ratelimit"


# -- cancellation --------------------------------------------------------------------------
#: Sorted set of cancelled task ids, scored by when they were cancelled; a queued task whose
#: id is here is skipped when a worker takes it.
CANCELLED = f"{PREFIX}:cancelled"
