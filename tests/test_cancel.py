"""Cancelling queued tasks: skipped by real workers, never billed, never redelivered."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from celery import states
from typer.testing import CliRunner

from tests.cluster import cluster_settings, start_cluster, wait_for_instances
from workers import keys
from workers.app import create_app
from workers.cancel import cancel, cancel_task, is_cancelled
from workers.cli import app as cli
from workers.errors import AlreadyFinished, InvalidInput, TaskCancelled
from workers.events import TaskEvent
from workers.inspect import queue_state
from workers.submit import submit

NOW = 1_750_000_000.0


def test_marks_expire_with_the_results(redis_client: redis.Redis) -> None:
    cancel(redis_client, "old-task", keep_s=60, now=NOW)
    cancel(redis_client, "new-task", keep_s=60, now=NOW + 61)
    assert is_cancelled(redis_client, "new-task")
    assert not is_cancelled(redis_client, "old-task")


@pytest.mark.parametrize("bad", ["", "a b", "x" * 65, "../etc", 42])
def test_bad_task_ids_are_refused(redis_client: redis.Redis, bad: object) -> None:
    with pytest.raises(InvalidInput, match="is not a Celery task id"):
        cancel(redis_client, bad, keep_s=60)  # type: ignore[arg-type]


@pytest.mark.slow
def test_a_cancelled_task_is_skipped_and_the_rest_run(redis_url: str, tmp_path: Path) -> None:
    """Tasks queued on a database no worker serves yet; one is cancelled; then workers start."""
    url = redis_url.rsplit("/", 1)[0] + "/2"
    client = redis.Redis.from_url(url, decode_responses=True)
    client.flushdb()
    settings = cluster_settings(url, tmp_path)
    app = create_app(settings)
    doomed = submit("cto", "never run this", app=app)
    kept = submit("cto", "run this one", app=app)
    assert cancel_task(doomed.id, app=app) == states.PENDING
    assert queue_state(client, "agent.cto.default")[0] == 2
    sup = start_cluster(settings)
    try:
        wait_for_instances(client, settings, 3)
        assert kept.get(timeout=60)["agent_type"] == "cto"
        with pytest.raises(TaskCancelled, match="was cancelled before it ran"):
            doomed.get(timeout=30)
        assert doomed.status == states.REVOKED
        with pytest.raises(AlreadyFinished, match="already finished \\(REVOKED\\)"):
            cancel_task(doomed.id, app=app)
        with pytest.raises(AlreadyFinished, match="SUCCESS"):
            cancel_task(kept.id, app=app)
        assert queue_state(client, "agent.cto.default")[0] == 0
        assert client.hlen("unacked") == 0  # acknowledged: it will not come back later
        events = [TaskEvent.from_fields(f) for _, f in client.xrange(keys.EVENTS_STREAM)]
        assert {e.task_id for e in events} == {kept.id}  # the skipped task costs nothing
        assert sum(int(v) for v in client.hvals(keys.INFLIGHT)) == 0
    finally:
        sup.stop_all()
        app.close()
        client.flushdb()
        client.close()


def test_cli_cancel_refuses_a_bad_id_with_exit_2() -> None:
    result = CliRunner().invoke(cli, ["cancel", "not an id"])
    assert result.exit_code == 2
    assert "is not a Celery task id" in result.output
