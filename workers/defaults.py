"""Named defaults, each with the reason for its value."""

from __future__ import annotations

#: Largest prompt accepted by submit: 64 KiB is far above a normal agent prompt and keeps one
#: message well below Redis' and the providers' limits.
MAX_PROMPT_BYTES = 64 * 1024
#: Heartbeat period; the router and autoscaler see a dead instance within one TTL.
HEARTBEAT_INTERVAL_S = 2.0
#: Three missed beats mark an instance gone: tolerant of one slow beat, quick to notice a crash.
HEARTBEAT_TTL_S = 6.0
#: Longest a single agent task may run; the broker's visibility timeout is set above it.
TASK_TIME_LIMIT_S = 300
#: Results are kept one day: long enough for a caller to fetch, short enough to bound memory.
RESULT_EXPIRES_S = 24 * 3600
#: Events kept in the stream (approximate trim); the rollup consumes far faster than this fills.
EVENTS_MAXLEN = 1_000_000
#: Threads per worker instance: agent tasks wait on the network, so a few per process is cheap.
POOL_CONCURRENCY = 4
#: Smoothing factor of the per-instance latency average (weight of the newest sample).
LATENCY_EWMA_ALPHA = 0.2
#: Warm shutdown wait before a worker is killed; reserved messages are requeued either way.
SHUTDOWN_GRACE_S = 30.0
#: A crashed instance is restarted after this delay, doubled per crash up to the cap.
RESTART_BACKOFF_S = 1.0
RESTART_BACKOFF_MAX_S = 30.0
