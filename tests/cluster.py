"""Starting real worker processes for tests, through the same supervisor `up` uses."""

from __future__ import annotations

import os
import time
from pathlib import Path

import redis

from workers import inspect
from workers.settings import Settings, load_settings
from workers.supervisor import Supervisor

FAST_AGENTS = Path(__file__).parent / "data" / "agents.fast.toml"

#: Short heartbeat timings so expiry tests finish quickly.
TEST_ENV = {
    "INFRA_MIND_HEARTBEAT_INTERVAL_S": "0.5",
    "INFRA_MIND_HEARTBEAT_TTL_S": "2",
    "INFRA_MIND_SHUTDOWN_GRACE_S": "15",
}


def cluster_settings(redis_url: str, state_dir: Path, agents_file: Path = FAST_AGENTS) -> Settings:
    return load_settings(
        redis_url=redis_url,
        agents_file=agents_file,
        state_dir=state_dir,
        heartbeat_interval_s=0.5,
        heartbeat_ttl_s=2,
        shutdown_grace_s=15,
    )


def child_env(settings: Settings) -> dict[str, str]:
    env = dict(TEST_ENV)
    env["INFRA_MIND_AGENTS_FILE"] = str(settings.agents_file)
    env["INFRA_MIND_STATE_DIR"] = str(settings.state_dir)
    return env


def start_cluster(
    settings: Settings, *, maintenance: bool = False, env: dict[str, str] | None = None
) -> Supervisor:
    sup = Supervisor(
        settings=settings,
        redis_url=str(settings.redis_url),
        log_dir=settings.state_dir / "logs",
        with_maintenance=maintenance,
        with_beat=False,
        with_flower=False,
        extra_env={**child_env(settings), **(env or {})},
    )
    sup.start()
    return sup


def wait_for_instances(
    client: redis.Redis, settings: Settings, count: int, timeout: float = 60.0
) -> list[inspect.InstanceInfo]:
    deadline = time.monotonic() + timeout
    while True:
        found = [i for i in inspect.read_instances(client) if i.state == "active"]
        if len(found) >= count:
            return found
        if time.monotonic() > deadline:
            logs = settings.state_dir / "logs"
            tail = ""
            for path in sorted(logs.glob("*.log")) if logs.exists() else []:
                tail += f"\n--- {path.name}\n" + path.read_text()[-1500:]
            raise AssertionError(f"only {len(found)}/{count} instances after {timeout} s{tail}")
        time.sleep(0.1)


def clean_env() -> dict[str, str]:
    """The environment for a CLI subprocess that must find its own Redis."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INFRA_MIND_")}
    env.pop("REDIS_URL", None)
    return env
