"""Tiered cache benchmark: hit ratios on real traces and Zipf mixes, and get() latency.

Run: ``.venv/bin/python benchmarks/cache.py``. Writes ``benchmarks/reports/cache.md`` and
``cache.json``. Hit ratios come from the simulator, which replays each trace through the
cache's own policy (and tier plan), plain LRU and Bélády's optimum at the same capacity, side
by side. Latency is measured on a real TieredCache against a private redis-server.
"""

from __future__ import annotations

import bisect
import json
import platform
import random
import statistics
import sys
import tempfile
import time
from itertools import accumulate
from pathlib import Path
from typing import Any

import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workers.cache.config import CacheConfig  # noqa: E402
from workers.cache.metrics import percentile  # noqa: E402
from workers.cache.optimal import next_uses  # noqa: E402
from workers.cache.simulate import OURS, simulate  # noqa: E402
from workers.cache.tiered import TieredCache  # noqa: E402
from workers.cache.traces import read_trace  # noqa: E402
from workers.redis_server import EmbeddedRedis  # noqa: E402

TRACES = ROOT.parent / "shared" / "data" / "cache-traces"
REPORTS = ROOT / "benchmarks" / "reports"
#: (name, file, format). All replayed in full: orm-busy (5 M requests) is the longest.
REAL_TRACES = [
    ("gli", "lirs/gli.trace.gz", "lirs"),
    ("loop", "lirs/loop.trace.gz", "lirs"),
    ("multi2", "lirs/multi2.trace.gz", "lirs"),
    ("sprite", "lirs/sprite.trace.gz", "lirs"),
    ("web07", "cache2k/web07.trace.xz", "cache2k"),
    ("orm-busy", "cache2k/orm-busy.trace.xz", "cache2k"),
]
#: Capacities as shares of the trace's distinct keys.
SHARES = (0.01, 0.05, 0.10)
#: The issue's anchor point: gli at 1,000 entries.
GLI_ANCHOR = 1000
ZIPF_ALPHAS = (0.8, 1.0, 1.2)
ZIPF_KEYS = 50_000
ZIPF_REQUESTS = 300_000
#: A scan of one-off keys this long every ``SCAN_EVERY`` requests (a batch job, a crawler).
SCAN_LENGTH = 5_000
SCAN_EVERY = 30_000
LATENCY_SAMPLES = 20_000
GOAL_GLI = 0.45
GOAL_LRU_GAP = -0.02
GOAL_L1_P99_US = 20.0


def zipf_with_scans(alpha: float, seed: int = 42) -> list[int]:
    """Zipf(alpha) over ``ZIPF_KEYS`` keys, with a scan of never-repeated keys mixed in."""
    rng = random.Random(seed)
    weights = [1 / (rank**alpha) for rank in range(1, ZIPF_KEYS + 1)]
    cdf = list(accumulate(weights))
    total = cdf[-1]
    keys: list[int] = []
    scan_key = ZIPF_KEYS
    while len(keys) < ZIPF_REQUESTS:
        if len(keys) % SCAN_EVERY == SCAN_EVERY - SCAN_LENGTH:
            keys.extend(range(scan_key, scan_key + SCAN_LENGTH))
            scan_key += SCAN_LENGTH
            continue
        keys.append(bisect.bisect_left(cdf, rng.random() * total))
    return keys[:ZIPF_REQUESTS]


def hit_ratio_rows(name: str, keys: list[Any], extra: tuple[int, ...] = ()) -> list[dict[str, Any]]:
    distinct = len(set(keys))
    capacities = sorted({max(1, round(distinct * s)) for s in SHARES} | set(extra))
    nexts = next_uses(keys)
    rows = []
    for capacity in capacities:
        result = simulate(keys, capacity, config=CacheConfig(), nexts=nexts)
        ratios = result.hit_ratio
        row = {
            "trace": name,
            "requests": result.requests,
            "distinct": distinct,
            "capacity": capacity,
            "share": round(capacity / distinct, 4),
            OURS: ratios[OURS],
            "lru": ratios["lru"],
            "optimal": ratios["optimal"],
            "vs_lru": ratios[OURS] - ratios["lru"],
            "hot_share": result.tier_share["hot"],
            "seconds": round(sum(result.seconds.values()), 2),
        }
        rows.append(row)
        print(
            f"  {name:<10} cap {capacity:>6}: infra-mind {row[OURS]:.2%}  lru {row['lru']:.2%}  "
            f"optimal {row['optimal']:.2%}  ({row['vs_lru'] * 100:+.1f} pts, {row['seconds']}s)",
            flush=True,
        )
    return rows


def timed_gets(cache: TieredCache, keys: list[str], before: Any = None) -> dict[str, float]:
    samples = []
    for key in keys:
        if before is not None:
            before(key)
        started = time.perf_counter_ns()
        cache.get(key)
        samples.append((time.perf_counter_ns() - started) / 1000)
    return {
        "p50_us": round(percentile(samples, 50) or 0, 2),
        "p99_us": round(percentile(samples, 99) or 0, 2),
        "mean_us": round(statistics.fmean(samples), 2),
    }


def latency() -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory() as folder:
        server = EmbeddedRedis(Path(folder), persistent=False).start()
        try:
            client = redis.Redis.from_url(server.url)
            with TieredCache(client, CacheConfig()) as cache:
                hot = [f"k{i}" for i in range(1000)]
                for key in hot:
                    cache.set(key, {"text": "a cached agent response " * 8, "tokens": 42})
                rng = random.Random(1)
                reads = [rng.choice(hot) for _ in range(LATENCY_SAMPLES)]
                timed_gets(cache, reads[:2000])  # warm up
                results = {"l1_hit": timed_gets(cache, reads)}
                print(f"  L1 hit     {results['l1_hit']}", flush=True)
                results["redis_hit"] = timed_gets(
                    cache, reads[:5000], before=lambda k: cache.l1.discard([k])
                )
                print(f"  Redis hit  {results['redis_hit']}", flush=True)
                missing = [f"missing{i}" for i in range(5000)]
                results["miss"] = timed_gets(cache, missing)
                print(f"  miss       {results['miss']}", flush=True)
            client.close()
        finally:
            server.stop()
    return results


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "# Tiered cache benchmark",
        "",
        f"Machine: {report['machine']}. Generated by `benchmarks/cache.py` in "
        f"{report['seconds']:.0f} s.",
        "",
        "## Goals",
        "",
    ]
    for goal in report["goals"]:
        lines.append(f"- {'met' if goal['met'] else 'MISSED'}: {goal['goal']} — {goal['value']}")
    lines += [
        "",
        "## Hit ratios (same capacity for every policy)",
        "",
        "Capacities are 1 %, 5 % and 10 % of each trace's distinct keys (plus gli at 1,000). "
        "`hot` is the share of requests served from the pinned hot set the promotion plan "
        "publishes (part of the infra-mind hits).",
        "",
        "| trace | requests | distinct | capacity | infra-mind | LRU | optimal | vs LRU | hot |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in report["hit_ratios"]:
        lines.append(
            f"| {row['trace']} | {row['requests']:,} | {row['distinct']:,} | "
            f"{row['capacity']:,} | {row[OURS]:.2%} | {row['lru']:.2%} | {row['optimal']:.2%} | "
            f"{row['vs_lru'] * 100:+.1f} pts | {row['hot_share']:.1%} |"
        )
    lines += [
        "",
        f"Zipf mixes: {ZIPF_REQUESTS:,} requests over {ZIPF_KEYS:,} keys, with a scan of "
        f"{SCAN_LENGTH:,} one-off keys every {SCAN_EVERY:,} requests.",
        "",
        "## get() latency (µs, real redis-server on loopback)",
        "",
        "| case | p50 | p99 | mean |",
        "|---|---:|---:|---:|",
    ]
    for case, row in report["latency"].items():
        lines.append(f"| {case} | {row['p50_us']} | {row['p99_us']} | {row['mean_us']} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    print("hit ratios on real traces", flush=True)
    for name, path, fmt in REAL_TRACES:
        keys = read_trace(TRACES / path, fmt)
        rows += hit_ratio_rows(name, keys, (GLI_ANCHOR,) if name == "gli" else ())
    print("hit ratios on Zipf mixes with scans", flush=True)
    for alpha in ZIPF_ALPHAS:
        rows += hit_ratio_rows(f"zipf-{alpha}", zipf_with_scans(alpha))
    print("get() latency", flush=True)
    lat = latency()
    gli = next(r for r in rows if r["trace"] == "gli" and r["capacity"] == GLI_ANCHOR)
    worst = min(rows, key=lambda r: r["vs_lru"])
    goals = [
        {
            "goal": f"gli at {GLI_ANCHOR} entries ≥ {GOAL_GLI:.0%}",
            "value": f"{gli[OURS]:.1%} (LRU {gli['lru']:.1%}, optimal {gli['optimal']:.1%})",
            "met": gli[OURS] >= GOAL_GLI,
        },
        {
            "goal": "never more than 2 points below LRU",
            "value": f"worst {worst['vs_lru'] * 100:+.2f} pts ({worst['trace']} at "
            f"{worst['capacity']})",
            "met": worst["vs_lru"] >= GOAL_LRU_GAP,
        },
        {
            "goal": f"L1 hit p99 ≤ {GOAL_L1_P99_US:.0f} µs",
            "value": f"{lat['l1_hit']['p99_us']} µs",
            "met": lat["l1_hit"]["p99_us"] <= GOAL_L1_P99_US,
        },
    ]
    report = {
        "machine": f"2 cores (shared), {platform.python_implementation()} "
        f"{platform.python_version()}, {platform.machine()}",
        "seconds": time.perf_counter() - started,
        "goals": goals,
        "hit_ratios": rows,
        "latency": lat,
    }
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / "cache.json").write_text(json.dumps(report, indent=2) + "\n")
    (REPORTS / "cache.md").write_text(markdown(report))
    for goal in goals:
        print(f"{'met' if goal['met'] else 'MISSED'}: {goal['goal']} — {goal['value']}")
    print(f"wrote {REPORTS / 'cache.md'} in {report['seconds']:.0f} s")


if __name__ == "__main__":
    main()
