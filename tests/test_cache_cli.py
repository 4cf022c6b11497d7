"""``infra-mind cache`` through typer's runner: simulate and stats."""

from __future__ import annotations

import gzip
import json
import lzma
import struct
from pathlib import Path

import redis
from conftest import SHARED_DATA
from typer.testing import CliRunner

from workers.cache.cli import app
from workers.cache.config import CacheConfig
from workers.cache.tiered import TieredCache
from workers.settings import Settings

runner = CliRunner()


def test_simulate_json_on_a_hand_computed_trace(tmp_path: Path) -> None:
    trace = tmp_path / "t.txt"
    trace.write_text("\n".join("ABCABDABCD") + "\n")
    result = runner.invoke(
        app, ["simulate", "--trace", str(trace), "--format", "lines", "--capacity", "3", "--json"]
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["capacity"] == 3
    assert body["requests"] == 10
    assert body["hit_ratio"]["lru"] == 0.4
    assert body["hit_ratio"]["optimal"] == 0.5
    assert "infra-mind" in body["hit_ratio"]


def test_simulate_reads_every_format(tmp_path: Path) -> None:
    lirs = tmp_path / "a.trace.gz"
    with gzip.open(lirs, "wt") as out:
        out.write("1\n2\n*\n1\n")
    cache2k = tmp_path / "b.trace.xz"
    with lzma.open(cache2k, "wb") as out:
        out.write(struct.pack(">4i", 7, -3, 7, 7))
    for path, fmt, hits in ((lirs, "lirs", 1), (cache2k, "cache2k", 2)):
        result = runner.invoke(
            app, ["simulate", "--trace", str(path), "--format", fmt, "--capacity", "2", "--json"]
        )
        assert result.exit_code == 0, result.output
        body = json.loads(result.stdout)
        assert body["requests"] in (3, 4)
        assert round(body["hit_ratio"]["lru"] * body["requests"]) == hits


def test_simulate_real_trace_table() -> None:
    trace = SHARED_DATA / "cache-traces" / "lirs" / "gli.trace.gz"
    result = runner.invoke(app, ["simulate", "--trace", str(trace), "--capacity", "1000"])
    assert result.exit_code == 0, result.output
    assert "infra-mind" in result.stdout and "optimal" in result.stdout


def test_simulate_bad_input_exits_2_with_one_line(tmp_path: Path) -> None:
    cases = [
        ["simulate", "--trace", str(tmp_path / "missing"), "--capacity", "5"],
        ["simulate", "--trace", str(tmp_path), "--capacity", "0"],
        ["simulate", "--trace", str(tmp_path / "x"), "--capacity", "5", "--format", "arc"],
    ]
    (tmp_path / "x").write_text("1\n")
    for args in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith("error: ")
        assert len(result.stderr.strip().splitlines()) == 1
    broken = tmp_path / "broken.trace"
    broken.write_text("not a number\n")
    result = runner.invoke(app, ["simulate", "--trace", str(broken), "--capacity", "5"])
    assert result.exit_code == 2
    assert "not a valid lirs trace" in result.stderr


def test_simulate_through_redis(redis_client: redis.Redis, redis_url: str, tmp_path: Path) -> None:
    trace = tmp_path / "t.txt"
    trace.write_text("\n".join(str(i % 7) for i in range(200)) + "\n")
    client = redis.Redis.from_url(redis_url.rsplit("/", 1)[0] + "/1")
    result = runner.invoke(
        app,
        ["simulate", "--trace", str(trace), "--format", "lines", "--capacity", "10", "--redis",
         "--json"],
        obj={"redis": client, "settings": Settings()},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    ratios = json.loads(result.stdout)["hit_ratio"]
    through_redis = [v for k, v in ratios.items() if "(redis," in k]
    assert through_redis == [193 / 200]  # 7 compulsory misses, everything else hits
    assert list(client.scan_iter(match="im:cache:*")) == []  # cleaned up


def test_stats_json_sums_every_process(redis_client: redis.Redis, redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url.rsplit("/", 1)[0] + "/1")
    with TieredCache(client, CacheConfig(prefetch=False)) as cache:
        cache.get("k", lambda key: 1)
        cache.get("k")
    result = runner.invoke(app, ["stats", "--json"], obj={"redis": client})
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["tiers"]["hot"]["hits"] == 1
    assert body["tiers"]["cold"]["loads"] == 1
    assert body["sizes"]["tracked_keys"] == 1
    table = runner.invoke(app, ["stats"], obj={"redis": client})
    assert table.exit_code == 0 and "hot" in table.stdout
