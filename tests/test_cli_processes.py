"""`infra-mind demo` and `infra-mind up` as a user runs them: real subprocesses, no REDIS_URL."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import httpx
import psutil
import pytest
import redis

from tests.cluster import FAST_AGENTS, TEST_ENV, clean_env
from workers import inspect

pytestmark = pytest.mark.slow
CLI = str(Path(sys.executable).parent / "infra-mind")
#: Rollup period of the systems these tests start.
ROLLUP_S = 2


def _env() -> dict[str, str]:
    env = clean_env()
    env.update(TEST_ENV)
    env["INFRA_MIND_AGENTS_FILE"] = str(FAST_AGENTS)
    env["INFRA_MIND_ROLLUP_INTERVAL_S"] = str(ROLLUP_S)
    return env


def test_demo_json_reports_everything_completed(tmp_path: Path) -> None:
    proc = subprocess.run(
        [CLI, "demo", "--tasks", "30", "--json"],
        cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["submitted"] == 30
    assert summary["completed"] == 30
    assert summary["failed"] == 0 and summary["lost"] == 0
    assert summary["seconds"] > 0
    assert set(summary["by_agent"]) == {"cto", "research", "compliance"}
    assert sum(a["completed"] for a in summary["by_agent"].values()) == 30
    # demo stops what it started: no Redis URL left behind, nothing listening.
    assert not (tmp_path / ".infra-mind" / "redis.url").exists()


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _demo_then_costs(folder: Path) -> None:
    """`demo` uses the running system; the beat's rollup prices it within two periods."""
    demo = subprocess.run(
        [CLI, "demo", "--tasks", "30", "--json"],
        cwd=folder, env=_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert demo.returncode == 0, demo.stderr[-2000:]
    assert "using the running system" in demo.stderr
    assert json.loads(demo.stdout.splitlines()[-1])["completed"] == 30
    deadline = time.monotonic() + 2 * ROLLUP_S + 10
    while True:
        costs = subprocess.run(
            [CLI, "costs", "--json"], cwd=folder, env=_env(), capture_output=True, text=True
        )
        assert costs.returncode == 0, costs.stderr
        lines = {line["key"]: line for line in json.loads(costs.stdout)["lines"]}
        if sum(line["requests"] for line in lines.values()) >= 30:
            break
        assert time.monotonic() < deadline, f"costs not rolled up: {costs.stdout}"
        time.sleep(0.5)
    assert set(lines) == {"cto", "research", "compliance"}
    for line in lines.values():
        assert line["requests"] == 10 and line["unpriced"] == 0
        assert Decimal(line["llm_usd"]) > 0 and Decimal(line["total_usd"]) > 0


def test_up_then_sigint_leaves_no_child_process(tmp_path: Path) -> None:
    api_port = _free_port()
    env = {**_env(), "INFRA_MIND_API_PORT": str(api_port)}
    proc = subprocess.Popen(
        [CLI, "up", "--no-flower"], cwd=tmp_path, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    url_file = tmp_path / ".infra-mind" / "redis.url"
    deadline = time.monotonic() + 90
    children: list[psutil.Process] = []
    try:
        while True:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            if url_file.exists():
                client = redis.Redis.from_url(url_file.read_text().strip(), decode_responses=True)
                try:
                    if len(inspect.read_instances(client)) >= 3:
                        break
                except redis.RedisError:
                    pass
                finally:
                    client.close()
            assert time.monotonic() < deadline, "up did not start its instances"
            time.sleep(0.2)
        children = _descendants(proc.pid)
        kinds = " ".join(" ".join(c.cmdline()) for c in children)
        assert "redis-server" in kinds and "beat" in kinds and "maintenance.1@" in kinds
        assert len(children) >= 7  # redis, 3 instances, maintenance, beat, API
        _api_answers(api_port, tmp_path / ".infra-mind" / "api-token")
        _demo_then_costs(tmp_path)
        children = _descendants(proc.pid)  # the autoscaler may have added instances
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-2000:]
    assert "infra-mind is up" in err
    _, alive = psutil.wait_procs(children, timeout=5)
    assert not alive, f"left running: {[p.cmdline() for p in alive]}"
    assert not url_file.exists()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _api_answers(port: int, token_file: Path) -> None:
    """The API `up` started serves the pools with the token it generated."""
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "the API did not answer"
        time.sleep(0.2)
    auth = {"Authorization": f"Bearer {token_file.read_text().strip()}"}
    pools = httpx.get(f"{base}/v1/pools", headers=auth, timeout=5).json()["pools"]
    assert {p["pool"] for p in pools} == {"cto.default", "research.default", "compliance.default"}


def test_second_up_in_the_same_folder_is_refused(tmp_path: Path) -> None:
    state = tmp_path / ".infra-mind"
    state.mkdir()
    (state / "up.pid").write_text(f"{psutil.Process().pid}\n")
    proc = subprocess.run(
        [CLI, "up"], cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: infra-mind is already running from")


def test_up_refuses_a_port_in_use_before_starting_anything(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**_env(), "INFRA_MIND_API_PORT": str(port)}
        proc = subprocess.run(
            [CLI, "up", "--no-flower"], cwd=tmp_path, env=env, capture_output=True, text=True,
            timeout=60,
        )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"error: the HTTP API cannot listen on 127.0.0.1:{port}")
    assert "set INFRA_MIND_API_PORT or start with --no-api" in proc.stderr
    assert not (tmp_path / ".infra-mind" / "redis.url").exists()
