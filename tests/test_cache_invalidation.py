"""In-process copies follow writes made by another process (a real subprocess)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import redis

from workers.cache.config import CacheConfig
from workers.cache.tiered import TieredCache

REPO = Path(__file__).resolve().parents[1]

#: The other process: caches "k" in process, then answers "get" with its current view.
CHILD = """
import sys, redis
from workers.cache.config import CacheConfig
from workers.cache.tiered import TieredCache
cache = TieredCache(redis.Redis.from_url(sys.argv[1]), CacheConfig(prefetch=False))
print("first", cache.get("k"), "k" in cache.l1, flush=True)
for line in sys.stdin:
    if line.strip() == "get":
        value = cache.get("k")
        print("value", value, flush=True)
cache.close()
"""


def test_write_in_one_process_invalidates_the_other(
    redis_client: redis.Redis, redis_url: str
) -> None:
    url = redis_url.rsplit("/", 1)[0] + "/1"
    raw = redis.Redis.from_url(url)
    with TieredCache(raw, CacheConfig(prefetch=False)) as writer:
        writer.set("k", "v1")
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, url],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert child.stdout is not None and child.stdin is not None
            assert child.stdout.readline().split() == ["first", "v1", "True"]
            writer.set("k", "v2")
            seen = None
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                child.stdin.write("get\n")
                child.stdin.flush()
                seen = child.stdout.readline().split()
                if seen == ["value", "v2"]:
                    break
                time.sleep(0.05)
            assert seen == ["value", "v2"]
            writer.delete("k")
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                child.stdin.write("get\n")
                child.stdin.flush()
                seen = child.stdout.readline().split()
                if seen == ["value", "None"]:
                    break
                time.sleep(0.05)
            assert seen == ["value", "None"]
        finally:
            if child.stdin:
                child.stdin.close()
            child.wait(10)
    raw.close()
