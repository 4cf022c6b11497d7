"""The HTTP API over a real uvicorn server, real Redis and real worker processes."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
import uvicorn
from fastapi import FastAPI
from kombu.exceptions import OperationalError

from tests.cluster import cluster_settings, start_cluster, wait_for_instances
from workers.api import create_api
from workers.credentials import api_token
from workers.inspect import queue_state
from workers.settings import Settings, load_settings

pytestmark = pytest.mark.slow

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Served:
    """A uvicorn server in a thread, stopped the way SIGTERM would stop it."""

    def __init__(self, settings: Settings, api: FastAPI | None = None) -> None:
        self.port = _free_port()
        config = uvicorn.Config(
            api or create_api(settings, token=TOKEN), port=self.port, log_level="critical"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> httpx.Client:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "API did not start"
            time.sleep(0.02)
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=30)
        return self.client

    def __exit__(self, *exc: object) -> None:
        self.client.close()
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="module")
def api(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    redis.Redis.from_url(redis_url).flushdb()
    base = cluster_settings(redis_url, tmp_path_factory.mktemp("state"))
    settings = base.model_copy(
        update={"tenant_budgets": load_settings(
            tenant_budgets={"broke": {"monthly_budget_usd": "0", "budget_mode": "hard"}}
        ).tenant_budgets, "api_max_wait_s": 30.0, "tenant_rate_limits": {"limited": "2/minute"}}
    )  # fmt: skip
    sup = start_cluster(settings)
    try:
        wait_for_instances(redis.Redis.from_url(redis_url), settings, 3)
        with Served(settings) as client:
            yield client
    finally:
        sup.stop_all()


def test_health_needs_no_token(api: httpx.Client) -> None:
    reply = api.get("/healthz")
    assert reply.status_code == 200 and reply.json() == {"status": "ok", "redis": "ok"}


@pytest.mark.parametrize(
    "header", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}]
)
def test_requests_without_the_token_are_refused(api: httpx.Client, header: dict) -> None:
    for path in ("/v1/pools", "/metrics", "/v1/tasks/abc"):
        reply = api.get(path, headers=header)
        assert reply.status_code == 401
        assert "bearer token" in reply.json()["error"]
    assert api.post("/v1/tasks", json={}, headers=header).status_code == 401


def test_submit_then_long_poll_the_result(api: httpx.Client) -> None:
    reply = api.post("/v1/tasks", json={"agent_type": "cto", "prompt": "plan the migration"},
                     headers=AUTH)  # fmt: skip
    assert reply.status_code == 202
    task = reply.json()
    assert task["agent_type"] == "cto" and task["status"] == "PENDING"
    assert reply.headers["location"] == f"/v1/tasks/{task['id']}"
    done = api.get(reply.headers["location"], params={"wait": 30}, headers=AUTH).json()
    assert done["status"] == "SUCCESS" and done["id"] == task["id"]
    assert done["agent_type"] == "cto" and done["finished_at"]
    assert done["result"]["agent_type"] == "cto" and done["result"]["text"]
    assert "error" not in done


def test_options_reach_the_task(api: httpx.Client) -> None:
    body = {"agent_type": "research", "prompt": "compare vector stores", "tenant": "acme",
            "priority": 3, "max_tokens": 64, "params": {"style": "brief"}}  # fmt: skip
    task = api.post("/v1/tasks", json=body, headers=AUTH).json()
    done = api.get(f"/v1/tasks/{task['id']}", params={"wait": 30}, headers=AUTH).json()
    assert done["status"] == "SUCCESS" and done["result"]["agent_type"] == "research"


def test_an_unknown_id_reads_as_pending_at_once(api: httpx.Client) -> None:
    started = time.monotonic()
    reply = api.get("/v1/tasks/0f0e1d2c-0000-4000-8000-000000000000", headers=AUTH)
    assert reply.status_code == 200 and reply.json()["status"] == "PENDING"
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"agent_type": "nobody", "prompt": "x"}, "nobody"),
        ({"agent_type": "cto"}, "prompt: Field required"),
        ({"agent_type": "cto", "prompt": "   "}, "prompt is empty"),
        ({"agent_type": "cto", "prompt": "x", "colour": "red"}, "colour"),
        ({"agent_type": "cto", "prompt": "x", "priority": 12}, "priority"),
        ({"agent_type": "cto", "prompt": "x", "tenant": "a b"}, "tenant"),
        ({"agent_type": "cto", "prompt": "x", "temperature": "hot"}, "temperature"),
    ],
)
def test_bad_input_is_one_line_400(api: httpx.Client, body: dict, needle: str) -> None:
    reply = api.post("/v1/tasks", json=body, headers=AUTH)
    assert reply.status_code == 400, reply.text
    message = reply.json()["error"]
    assert needle in message and "\n" not in message


def test_bad_reads_are_400(api: httpx.Client) -> None:
    assert api.get("/v1/tasks/not_an*id", headers=AUTH).status_code == 400
    reply = api.get("/v1/tasks/abc", params={"wait": 999}, headers=AUTH)
    assert reply.status_code == 400 and "api_max_wait_s" in reply.json()["error"]


def test_a_spent_hard_budget_is_402(api: httpx.Client) -> None:
    body = {"agent_type": "cto", "prompt": "x", "tenant": "broke"}
    reply = api.post("/v1/tasks", json=body, headers=AUTH)
    assert reply.status_code == 402 and "broke" in reply.json()["error"]


def test_pools_and_metrics_show_every_pool(api: httpx.Client) -> None:
    pools = {p["pool"]: p for p in api.get("/v1/pools", headers=AUTH).json()["pools"]}
    assert set(pools) == {"cto.default", "research.default", "compliance.default"}
    assert all(p["healthy"] == 1 for p in pools.values())
    text = api.get("/metrics", headers=AUTH).text
    assert 'infra_mind_instances{pool="cto.default",state="active"} 1.0' in text
    assert 'infra_mind_queue_depth{pool="research.default"}' in text


def test_openapi_documents_the_routes(api: httpx.Client) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    assert {"/v1/tasks", "/v1/tasks/{task_id}", "/v1/pools", "/v1/costs", "/healthz"} <= set(paths)


def test_the_token_is_generated_once_and_private(tmp_path: Path) -> None:
    settings = load_settings(state_dir=tmp_path)
    token, source = api_token(settings)
    assert len(token) >= 32 and source.endswith("api-token")
    assert api_token(settings)[0] == token
    assert (tmp_path / "api-token").stat().st_mode & 0o077 == 0
    assert api_token(load_settings(state_dir=tmp_path, api_token="given")) == (
        "given",
        "INFRA_MIND_API_TOKEN",
    )


def test_costs_and_budgets_are_exact_json(api: httpx.Client) -> None:
    report = api.get("/v1/costs", params={"by": "tenant", "period": "month"}, headers=AUTH).json()
    assert report["by"] == "tenant" and report["period"] == "month"
    assert isinstance(report["total"]["total_usd"], str | None)
    assert "recommendations" in report
    budgets = {b["budget"]: b for b in api.get("/v1/budgets", headers=AUTH).json()["budgets"]}
    assert budgets["tenant:broke"]["mode"] == "hard" and budgets["tenant:broke"]["limit_usd"] == "0"
    bad = api.get("/v1/costs", params={"period": "hour"}, headers=AUTH)
    assert bad.status_code == 400 and "period" in bad.json()["error"]


def test_a_batch_is_queued_whole(api: httpx.Client) -> None:
    tasks = [{"agent_type": a, "prompt": f"batch item {n}"} for n, a in
             enumerate(["cto", "research", "compliance"] * 4)]  # fmt: skip
    reply = api.post("/v1/tasks/batch", json={"tasks": tasks}, headers=AUTH)
    assert reply.status_code == 202
    accepted = reply.json()["tasks"]
    assert [t["agent_type"] for t in accepted] == [t["agent_type"] for t in tasks]
    for task in accepted:
        done = api.get(f"/v1/tasks/{task['id']}", params={"wait": 30}, headers=AUTH).json()
        assert done["status"] == "SUCCESS"


def test_one_bad_task_queues_none_of_the_batch(api: httpx.Client, redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    before = queue_state(client, "agent.cto.default")[0]
    tasks = [{"agent_type": "cto", "prompt": "fine"}, {"agent_type": "cto", "prompt": ""}]
    reply = api.post("/v1/tasks/batch", json={"tasks": tasks}, headers=AUTH)
    assert reply.status_code == 400 and reply.json()["error"].startswith("task 1: ")
    broke = [{"agent_type": "cto", "prompt": "fine"}, {**tasks[0], "tenant": "broke"}]
    assert api.post("/v1/tasks/batch", json={"tasks": broke}, headers=AUTH).status_code == 402
    assert queue_state(client, "agent.cto.default")[0] == before
    empty = api.post("/v1/tasks/batch", json={"tasks": []}, headers=AUTH)
    assert empty.status_code == 400 and "tasks" in empty.json()["error"]


def test_cancel_a_queued_id_then_a_finished_task(api: httpx.Client) -> None:
    unknown = "0f0e1d2c-0000-4000-8000-0000000000aa"
    reply = api.post(f"/v1/tasks/{unknown}/cancel", headers=AUTH)
    assert reply.status_code == 202
    assert reply.json() == {"id": unknown, "status": "PENDING", "cancelled": True,
                            "note": "it will be skipped when a worker takes it"}  # fmt: skip
    task = api.post("/v1/tasks", json={"agent_type": "cto", "prompt": "done soon"},
                    headers=AUTH).json()  # fmt: skip
    api.get(f"/v1/tasks/{task['id']}", params={"wait": 30}, headers=AUTH)
    late = api.post(f"/v1/tasks/{task['id']}/cancel", headers=AUTH)
    assert late.status_code == 409 and "already finished (SUCCESS)" in late.json()["error"]
    assert api.post("/v1/tasks/bad*id/cancel", headers=AUTH).status_code == 400


def test_metrics_carry_the_bill_and_budgets(api: httpx.Client) -> None:
    text = api.get("/metrics", headers=AUTH).text
    assert 'infra_mind_budget_limit_usd{budget="tenant:broke",mode="hard"} 0.0' in text
    assert "# TYPE infra_mind_cost_month_usd gauge" in text
    assert "# TYPE infra_mind_rate_limit_used_ratio gauge" in text


def test_an_oversized_body_is_refused_before_it_is_read(api: httpx.Client) -> None:
    huge = b"x" * (17 * 1024 * 1024)
    reply = api.post(
        "/v1/tasks", content=huge, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert reply.status_code == 413 and "api_max_body_bytes" in reply.json()["error"]


def test_a_tenant_over_its_submission_limit_gets_429(api: httpx.Client) -> None:
    body = {"agent_type": "cto", "prompt": "x", "tenant": "limited"}
    assert [api.post("/v1/tasks", json=body, headers=AUTH).status_code for _ in range(2)] == [
        202,
        202,
    ]
    reply = api.post("/v1/tasks", json=body, headers=AUTH)
    assert reply.status_code == 429 and "tenant limited" in reply.json()["error"]
    assert 1 <= int(reply.headers["retry-after"]) <= 60


def test_unexpected_failures_keep_the_error_shape(redis_url: str, tmp_path: Path) -> None:
    settings = cluster_settings(redis_url, tmp_path)
    api = create_api(settings, token=TOKEN)

    @api.get("/v1/boom")
    def boom() -> None:
        raise RuntimeError("secret detail")

    @api.get("/v1/broker-down")
    def broker_down() -> None:
        raise OperationalError("Connection refused")

    with Served(settings, api) as client:
        crash = client.get("/v1/boom", headers=AUTH)
        assert crash.status_code == 500
        assert crash.json() == {
            "error": "internal error (RuntimeError); the server log has the details"
        }
        down = client.get("/v1/broker-down", headers=AUTH)
        assert down.status_code == 503 and "nothing was queued" in down.json()["error"]


def test_api_command_without_redis_exits_3() -> None:
    from typer.testing import CliRunner

    from workers.cli import app as cli

    env = {"REDIS_URL": f"redis://127.0.0.1:{_free_port()}/0"}
    result = CliRunner().invoke(cli, ["api", "--port", str(_free_port())], env=env)
    assert result.exit_code == 3
    assert "is unreachable" in result.output


def test_prompts_are_optimized_over_http(api: httpx.Client) -> None:
    text = "Please note that you must basically keep `prod-db` in order to pass the audit."
    body = {"prompts": [{"id": "p1", "prompt": text}, {"prompt": "Hello!"}]}
    results = api.post("/v1/prompts/optimize", json=body, headers=AUTH).json()["results"]
    first, second = results
    assert first["id"] == "p1" and "`prod-db`" in first["optimized"]
    assert first["optimized_tokens"] < first["original_tokens"] and first["quality"] == 1.0
    assert second["id"] is None and second["optimized"] == "Hello!"
    bad = api.post("/v1/prompts/optimize", json={"prompts": [{"prompt": 3}]}, headers=AUTH)
    assert bad.status_code == 400 and "prompt" in bad.json()["error"]
    unknown = api.post(
        "/v1/prompts/optimize", json={"prompts": [{"prompt": "x"}], "model": 5}, headers=AUTH
    )
    assert unknown.status_code == 400
    assert api.get("/v1/prompts/stats", headers=AUTH).json() == {"agents": []}
