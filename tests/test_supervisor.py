"""The local actuator: desired counts from Redis, crash restarts, warm scale-in."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from tests.cluster import cluster_settings, start_cluster, wait_for_instances
from workers import keys
from workers.supervisor import ProcessKind, Supervisor

pytestmark = pytest.mark.slow


@pytest.fixture
def one_type(tmp_path: Path, redis_url: str) -> Iterator[tuple[Supervisor, redis.Redis]]:
    agents = tmp_path / "agents.toml"
    agents.write_text(
        '[agents.cto]\nmodel = "gpt-4o"\nlatency = { mean_ms = 20, spread_ms = 5 }\n'
        "scaling = { min = 1, max = 3 }\n"
    )
    url = redis_url.rsplit("/", 1)[0] + "/2"
    client = redis.Redis.from_url(url, decode_responses=True)
    client.flushdb()
    sup = start_cluster(cluster_settings(url, tmp_path / "state", agents))
    try:
        yield sup, client
    finally:
        sup.stop_all()
        client.close()


def _until(cond: Callable[[], bool], timeout: float, sup: Supervisor, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, what
        sup.step()
        time.sleep(0.2)


def _agents(sup: Supervisor) -> list[str]:
    return sorted(
        m.name for m in sup.managed.values()
        if m.kind is ProcessKind.AGENT and m.stopping_since is None
    )  # fmt: skip


def test_desired_count_from_redis_is_clamped_and_applied(
    one_type: tuple[Supervisor, redis.Redis],
) -> None:
    sup, client = one_type
    wait_for_instances(client, sup.settings, 1)
    client.set(keys.desired_instances("cto", "default"), 2)
    sup.step()
    assert _agents(sup) == ["cto.default.1", "cto.default.2"]
    wait_for_instances(client, sup.settings, 2)
    client.set(keys.desired_instances("cto", "default"), 99)  # above max: clamped to 3
    sup.step()
    assert len(_agents(sup)) == 3
    client.set(keys.desired_instances("cto", "default"), 0)  # below min: clamped to 1
    _until(lambda: len(sup.managed) == 1, 30, sup, "scale-in did not finish")
    assert len(_agents(sup)) == 1


def test_crashed_instance_is_restarted(one_type: tuple[Supervisor, redis.Redis]) -> None:
    sup, client = one_type
    wait_for_instances(client, sup.settings, 1)
    item = sup.managed["cto.default.1"]
    assert item.proc is not None
    old_pid = item.proc.pid
    item.proc.send_signal(signal.SIGKILL)
    item.proc.wait()

    def restarted() -> bool:
        proc = sup.managed["cto.default.1"].proc
        return proc is not None and proc.pid != old_pid and proc.poll() is None

    _until(restarted, 10, sup, "crashed instance was not restarted")
    assert sup.managed["cto.default.1"].crashes == 1
