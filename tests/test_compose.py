import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _compose() -> list[str] | None:
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    ):
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def test_docker_compose_config_is_valid() -> None:
    compose = _compose()
    if compose is None:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed")
    env = {**os.environ, "FLOWER_PASSWORD": "test", "INFRA_MIND_API_TOKEN": "test"}
    proc = subprocess.run(
        [*compose, "config", "-q"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr


def test_compose_has_a_worker_per_default_agent_type() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    for agent in ("cto", "cloud_engineer", "research", "compliance", "mlops", "report_generator"):
        assert f'"-Q", "agent.{agent}.default"' in text
    for service in ("redis:", "mongo:", "maintenance:", "beat:", "flower:", "api:", "--appendonly"):
        assert service in text
