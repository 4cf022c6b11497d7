"""``prompts optimize`` and ``prompts stats`` through the typer runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis
from typer.testing import CliRunner

from workers.prompts import optimize
from workers.prompts.cli import app
from workers.prompts.store import commit_batch, save_version

CONTRACT = {"id", "original_tokens", "optimized_tokens", "optimized", "quality", "passes"}
runner = CliRunner()


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_optimize_jsonl_json_contract(tmp_path: Path) -> None:
    lines = [
        {"id": "a", "prompt": "Please note that in order to deploy, basically run make.", "x": 1},
        {"id": 7, "prompt": "Summarize the log in 3 bullets."},
    ]
    path = write(tmp_path, "in.jsonl", "\n".join(json.dumps(line) for line in lines) + "\n\n")
    result = runner.invoke(app, ["optimize", str(path), "--json", "--model", "gpt-4o"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert [set(row) for row in payload] == [CONTRACT, CONTRACT]
    assert [row["id"] for row in payload] == ["a", 7]
    first = payload[0]
    expected = optimize(lines[0]["prompt"], model="gpt-4o")  # type: ignore[arg-type]
    assert first["optimized"] == expected.optimized == "To deploy, run make."
    assert first["original_tokens"] > first["optimized_tokens"]
    assert first["quality"] == 1.0 and first["passes"] == list(expected.passes)
    assert payload[1]["optimized"] == lines[1]["prompt"] and payload[1]["passes"] == []


def test_optimize_plain_text_file(tmp_path: Path) -> None:
    path = write(tmp_path, "system.txt", "Hello! Basically, answer in English.\n")
    result = runner.invoke(app, ["optimize", str(path), "--json"])
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.stdout)
    assert row["id"] == "system.txt" and row["optimized"] == "Answer in English."


def test_optimize_table_output(tmp_path: Path) -> None:
    path = write(tmp_path, "p.txt", "Please basically check the logs.")
    result = runner.invoke(app, ["optimize", str(path), "--model", "unknown-model"])
    assert result.exit_code == 0
    assert "p.txt" in result.stdout and "unknown price" in result.stdout


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.jsonl", "", "file is empty"),
        ("blank.txt", "  \n\n", "file is empty"),
        (
            "bad.jsonl",
            '{"id": 1, "prompt": "ok"}\n{"id": 2, "prompt": \n',
            "bad.jsonl:2: invalid JSON",
        ),
        (
            "list.jsonl",
            '{"id": 1, "prompt": "ok"}\n[1, 2]\n',
            "list.jsonl:2: expected a JSON object",
        ),
        ("noprompt.jsonl", '{"id": 1}\n', 'noprompt.jsonl:1: "prompt" must be a string'),
    ],
)
def test_bad_input_exits_2_with_one_line(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    path = write(tmp_path, name, content)
    result = runner.invoke(app, ["optimize", str(path), "--json"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert message in result.stderr and result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: ")


def test_prompt_above_the_size_limit_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INFRA_MIND_MAX_PROMPT_BYTES", "100")
    ok = json.dumps({"id": "ok", "prompt": "short"})
    big = json.dumps({"id": "big", "prompt": "x" * 101})
    path = write(tmp_path, "big.jsonl", f"{ok}\n{big}\n")
    result = runner.invoke(app, ["optimize", str(path), "--json"])
    assert result.exit_code == 2 and result.stdout == ""
    assert "big.jsonl:2: prompt is 101 bytes, above the limit of 100 bytes" in result.stderr


def test_default_size_limit_is_64_kib(tmp_path: Path) -> None:
    path = write(tmp_path, "huge.txt", "word " * 14_000)
    result = runner.invoke(app, ["optimize", str(path)])
    assert result.exit_code == 2 and "above the limit of 65536 bytes" in result.stderr


def test_missing_file_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["optimize", str(tmp_path / "nope.jsonl")])
    assert result.exit_code == 2 and "No such file" in result.stderr


def test_stats_json(redis_client: redis.Redis, redis_url: str) -> None:
    url = redis_url.rsplit("/", 1)[0] + "/1"
    save_version(redis_client, "cto", optimize("Please basically be brief and precise."))
    commit_batch(
        redis_client, "cto", cursor_from=0, cursor_to=1, results=[optimize("Kindly list 3 risks.")]
    )
    result = runner.invoke(app, ["stats", "--json", "--redis-url", url])
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.stdout)
    assert row["agent_type"] == "cto" and row["prompts_optimized"] == 1
    assert row["template"]["version"] == 1
    table = runner.invoke(app, ["stats", "--redis-url", url])
    assert table.exit_code == 0 and "cto" in table.stdout


def test_stats_without_redis_exits_3() -> None:
    result = runner.invoke(app, ["stats", "--redis-url", "redis://127.0.0.1:1/0"])
    assert result.exit_code == 3 and result.stderr.startswith("error: cannot reach Redis")
