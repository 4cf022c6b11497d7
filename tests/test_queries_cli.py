"""`queries analyze` through typer's runner: table, JSON contract, bad input, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bson import json_util
from typer.testing import CliRunner

from scheduler.queries.cli import app
from tests.test_queries_support import SAMPLE_LOG, T0, orders_collscan, profile_doc, write_log

runner = CliRunner()


def test_json_contract(tmp_path: Path) -> None:
    log = write_log(tmp_path / "m.log", [*orders_collscan(6), "not json"])
    result = runner.invoke(app, ["analyze", "--log", str(log), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    (shape,) = out["shapes"]
    for key in ("ns", "op", "shape", "count", "p95_ms", "docs_examined_per_returned"):
        assert key in shape
    assert (shape["ns"], shape["op"], shape["count"], shape["p95_ms"]) == (
        "shop.orders",
        "find",
        6,
        405,
    )
    assert shape["docs_examined_per_returned"] == 2500
    (sug,) = out["suggestions"]
    assert sug["ns"] == "shop.orders"
    assert sug["key"] == [["status", 1], ["total", -1], ["created", 1]]
    assert sug["shapes"] == [shape["id"]]
    assert sug["command"].startswith('db.getSiblingDB("shop")')
    assert out["sources"][0]["unreadable"] == 1
    assert out["notes"] == ["1 unreadable line(s) skipped"]


def test_table_by_default(tmp_path: Path) -> None:
    log = write_log(tmp_path / "m.log", orders_collscan(3))
    result = runner.invoke(
        app, ["analyze", "--log", str(log), "--threshold-ms", "50"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    assert "Query shapes (slow: p95 > 50 ms)" in result.stdout
    assert "Index suggestions" in result.stdout
    assert "createIndex" in result.stdout
    assert "3 lines, 3 operations" in result.stdout


def test_threshold_changes_what_is_slow(tmp_path: Path) -> None:
    log = write_log(tmp_path / "m.log", orders_collscan(3))
    result = runner.invoke(app, ["analyze", "--log", str(log), "--threshold-ms", "1000", "--json"])
    out = json.loads(result.stdout)
    assert out["suggestions"] == [] and out["shapes"][0]["slow"] is False


def test_profile_export(tmp_path: Path) -> None:
    docs = [
        profile_doc(
            "shop.c",
            "query",
            {"find": "c", "filter": {"k": i}},
            200 + i,
            planSummary="COLLSCAN",
            docsExamined=900,
            nreturned=1,
            ts=T0,
        )
        for i in range(4)
    ]
    path = tmp_path / "p.json"
    path.write_text("".join(json_util.dumps(d) + "\n" for d in docs))
    result = runner.invoke(app, ["analyze", "--profile", str(path), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["suggestions"][0]["key"] == [["k", 1]]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give exactly one of"),
        (["--log", "a", "--profile", "b"], "give exactly one of"),
        (["--log", "/nonexistent/mongod.log"], "cannot read log"),
        (["--mongo", "http://nope"], "invalid MongoDB URL"),
        (["--mongo", "mongodb://localhost:27017"], "names no database"),
    ],
)
def test_bad_input_exits_2(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["analyze", *args])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert "Traceback" not in result.output


def test_a_file_that_is_not_a_log(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("dear diary\n" * 100)
    result = runner.invoke(app, ["analyze", "--log", str(path), "--json"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert (
        result.stderr == f"error: {path} is not a mongod log: no line is a mongod JSON log entry\n"
    )


def test_real_log_through_the_cli() -> None:
    if not SAMPLE_LOG.exists():
        pytest.skip(f"shared sample log missing at {SAMPLE_LOG}")
    result = runner.invoke(app, ["analyze", "--log", str(SAMPLE_LOG), "--json"])
    assert result.exit_code == 0
    out = json.loads(result.stdout)
    assert out["totals"] == {
        "operations": 19_438,
        "shapes": 19,
        "slow_shapes": 13,
        "total_ms": out["totals"]["total_ms"],
    }
    assert out["suggestions"] == []
    assert out["sources"][0]["lines"] == 27_995 and out["sources"][0]["unreadable"] == 0
