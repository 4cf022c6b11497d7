"""HTTP API ingest: how fast tasks can be submitted over HTTP, next to submitting in process.

Runs its own redis-server and the API in a separate uvicorn process (no workers: this
measures accepting tasks, not running them). Side by side, on the same Redis:

* ``submit()`` in process, one task at a time (the floor: validation, router, publish);
* ``POST /v1/tasks`` from 16 client threads;
* ``POST /v1/tasks/batch`` with 100 tasks a request, from 4 client threads.

Reports tasks/s and request latency percentiles, and checks that every accepted task is in
its queue (nothing lost between 202 and the broker).

    .venv/bin/python benchmarks/api.py [--tasks 3000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workers.app import create_app  # noqa: E402
from workers.inspect import queue_state  # noqa: E402
from workers.redis_server import EmbeddedRedis  # noqa: E402
from workers.settings import load_settings  # noqa: E402
from workers.submit import submit  # noqa: E402

REPORTS = Path(__file__).resolve().parent / "reports"
TOKEN = "bench-token"
AGENTS = ("cto", "research", "compliance", "mlops")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def body(n: int) -> dict[str, Any]:
    return {"agent_type": AGENTS[n % len(AGENTS)], "prompt": f"benchmark task {n}: plan it"}


def percentiles(ms: list[float]) -> dict[str, float]:
    ordered = sorted(ms)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"p50_ms": pick(0.50), "p95_ms": pick(0.95), "p99_ms": pick(0.99)}


def in_process(url: str, tasks: int) -> dict[str, Any]:
    app = create_app(load_settings(redis_url=url))
    latencies = []
    start = time.perf_counter()
    for n in range(tasks):
        t = time.perf_counter()
        b = body(n)
        submit(b["agent_type"], b["prompt"], app=app)
        latencies.append((time.perf_counter() - t) * 1000)
    seconds = time.perf_counter() - start
    app.close()
    return {"tasks": tasks, "tasks_per_s": tasks / seconds, **percentiles(latencies)}


def over_http(base: str, tasks: int, threads: int, batch: int) -> dict[str, Any]:
    latencies: list[float] = []
    accepted = 0
    lock = threading.Lock()
    requests = [list(range(i, min(i + batch, tasks))) for i in range(0, tasks, batch)]

    def client(part: list[list[int]]) -> None:
        nonlocal accepted
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}) as http:
            for numbers in part:
                t = time.perf_counter()
                if batch == 1:
                    reply = http.post("/v1/tasks", json=body(numbers[0]))
                else:
                    reply = http.post("/v1/tasks/batch", json={"tasks": [body(n) for n in numbers]})
                ms = (time.perf_counter() - t) * 1000
                reply.raise_for_status()
                with lock:
                    latencies.append(ms)
                    accepted += len(numbers)

    parts = [requests[i::threads] for i in range(threads)]
    workers = [threading.Thread(target=client, args=(p,)) for p in parts]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    seconds = time.perf_counter() - start
    return {
        "tasks": accepted,
        "requests": len(latencies),
        "tasks_per_s": accepted / seconds,
        **percentiles(latencies),
    }


def queued(url: str) -> int:
    import redis

    client = redis.Redis.from_url(url)
    try:
        return sum(queue_state(client, f"agent.{a}.default")[0] for a in AGENTS)
    finally:
        client.close()


def serve(url: str, port: int, folder: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "REDIS_URL": url,
        "INFRA_MIND_API_TOKEN": TOKEN,
        "INFRA_MIND_API_PORT": str(port),
        "INFRA_MIND_STATE_DIR": str(folder),
        "INFRA_MIND_LOG_LEVEL": "WARNING",
    }
    proc = subprocess.Popen([sys.executable, "-m", "workers.api"], env=env, cwd=ROOT)
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise SystemExit("the API did not start")
        time.sleep(0.1)


def machine() -> str:
    load = os.getloadavg()[0]
    return (
        f"{platform.python_implementation()} {platform.python_version()} on "
        f"{platform.machine()}, {os.cpu_count()} CPUs (shared machine), load average {load:.2f}"
    )


def render(report: dict[str, Any]) -> str:
    lines = [
        "# HTTP API ingest benchmark",
        "",
        f"Machine: {report['machine']}. API: one uvicorn process; no workers run, so this is",
        "the cost of accepting tasks (validation, router decision, publish to Redis).",
        "",
        "| path | tasks | requests | tasks/s | p50 ms | p95 ms | p99 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in report["runs"].items():
        lines.append(
            f"| {name} | {r['tasks']} | {r.get('requests', r['tasks'])} | {r['tasks_per_s']:.0f} "
            f"| {r['p50_ms']:.2f} | {r['p95_ms']:.2f} | {r['p99_ms']:.2f} |"
        )
    lines += [
        "",
        f"Every accepted task was in its queue afterwards: {report['queued']} queued of "
        f"{report['accepted']} accepted ({'nothing lost' if report['lost'] == 0 else 'LOST'}).",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=3000, help="tasks per path")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedRedis(Path(tmp) / "redis", persistent=False).start()
        port = free_port()
        api = serve(server.url, port, Path(tmp) / "state")
        try:
            base = f"http://127.0.0.1:{port}"
            runs = {}
            print("submit() in process ...", flush=True)
            runs["submit() in process"] = in_process(server.url, args.tasks)
            print("POST /v1/tasks, 16 threads ...", flush=True)
            runs["POST /v1/tasks (16 threads)"] = over_http(base, args.tasks, 16, 1)
            print("POST /v1/tasks/batch of 100, 4 threads ...", flush=True)
            runs["POST /v1/tasks/batch, 100 a request (4 threads)"] = over_http(
                base, args.tasks, 4, 100
            )
            accepted = sum(r["tasks"] for r in runs.values())
            found = queued(server.url)
        finally:
            api.terminate()
            api.wait(10)
            server.stop()
    report = {
        "machine": machine(),
        "runs": runs,
        "accepted": accepted,
        "queued": found,
        "lost": accepted - found,
    }
    for name, r in runs.items():
        print(f"{name}: {r['tasks_per_s']:.0f} tasks/s, p99 {r['p99_ms']:.2f} ms")
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / "api.json").write_text(json.dumps(report, indent=2) + "\n")
    (REPORTS / "api.md").write_text(render(report))
    print(f"lost: {report['lost']}; wrote {REPORTS / 'api.md'}")


if __name__ == "__main__":
    main()
