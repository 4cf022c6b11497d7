"""mongod JSON logs: the real sample log, synthetic edge cases, bad files, resuming."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import pytest

from scheduler.queries.analysis import analyze
from scheduler.queries.readers.mongod_log import MongodLogReader
from scheduler.queries.record import Op
from scheduler.queries.stats import StatsTable
from tests.test_queries_support import (
    SAMPLE_LOG,
    orders_collscan,
    other_entry,
    slow_entry,
    write_log,
)
from workers.errors import InvalidInput


@pytest.fixture(scope="module")
def sample() -> tuple[MongodLogReader, StatsTable]:
    if not SAMPLE_LOG.exists():
        pytest.skip(f"shared sample log missing at {SAMPLE_LOG}")
    reader = MongodLogReader(SAMPLE_LOG)
    return reader, StatsTable().add_all(reader.records())


def test_real_log_every_line_is_read(sample: tuple[MongodLogReader, StatsTable]) -> None:
    reader, table = sample
    counts = reader.counts
    assert counts.lines == 27_995
    assert counts.unreadable == 0
    # 27,429 slow-query entries: 19,438 operations, 6,060 write batches whose statements are
    # logged on their own lines, and 1,931 admin/diagnostic commands.
    assert counts.records == table.records == 19_438
    assert counts.skipped["write batch (statements logged separately)"] == 6_060
    assert counts.skipped["other log messages"] == 27_995 - 27_429
    admin = sum(n for reason, n in counts.skipped.items() if reason.startswith("command "))
    assert admin == 27_429 - 19_438 - 6_060
    assert counts.skipped["command collStats"] == 816
    assert reader.position()["offset"] > 0


def _by(table: StatsTable, ns: str, op: Op, filt: object) -> list:
    return [
        s
        for s in table.shapes.values()
        if s.shape.ns == ns and s.shape.op is op and s.shape.filter == filt
    ]


def test_real_log_shapes(sample: tuple[MongodLogReader, StatsTable]) -> None:
    _, table = sample
    assert len(table.shapes) == 19
    ops = Counter()
    for s in table.shapes.values():
        ops[s.shape.op] += s.count
    assert ops == {
        Op.INSERT: 10_371,
        Op.FIND: 3_001,
        Op.UPDATE: 3_072,
        Op.DELETE: 2_988,
        Op.AGGREGATE: 4,
        Op.DISTINCT: 2,
    }
    # 2,988 different e-mail addresses, one shape per operation kind, all on the email index.
    for op in (Op.FIND, Op.UPDATE, Op.DELETE):
        (s,) = _by(table, "testdb.__examples", op, {"email": "<str>"})
        assert s.count == 2_988
        assert dict(s.plans) == {"IXSCAN { email: 1 }": 2_988}
        assert dict(s.query_hashes) == {"A55E809A": 2_988}
        assert s.docs_examined_per_returned == 1.0
        assert (s.pct(50), s.pct(95), s.max_ms) == (89, 253, 253)
        assert "@" not in json.dumps(s.sample)  # values masked
    (scan,) = _by(table, "testdb.vehicles", Op.FIND, {})
    assert scan.count == 3 and scan.collscan_share == 1.0 and scan.docs_examined == 303
    plain, sorted_find = sorted(
        _by(table, "testdb.vehicles", Op.FIND, {"color": "<str>"}), key=lambda s: bool(s.shape.sort)
    )
    assert dict(plain.plans) == {"IXSCAN { color: 1 }": 6}
    assert sorted_find.shape.sort == (("brand", -1),)
    assert sorted_find.shape.projection == ("_id", "brand", "color")
    assert dict(sorted_find.plans) == {"IXSCAN { color: 1, brand: 1 }": 2}
    (agg,) = _by(table, "testdb.favorites", Op.AGGREGATE, None)
    assert agg.shape.stages == ("$collStats", "$group")
    (inserts,) = _by(table, "testdb.__examples", Op.INSERT, None)
    assert inserts.count == 10_175 and inserts.max_ms == 2_137


def test_real_log_findings(sample: tuple[MongodLogReader, StatsTable]) -> None:
    """Everything that filters is already served by an index: the analyzer must not invent
    suggestions, and must say where the slowness is not."""
    _, table = sample
    report = analyze(list(table.shapes.values()), threshold_ms=100)
    assert report.suggestions == []
    rows = {(r["ns"], r["op"], json.dumps(r["shape"], sort_keys=True)): r for r in report.shapes}
    email = rows[
        ("testdb.__examples", "find", json.dumps({"filter": {"email": "<str>"}}, sort_keys=True))
    ]
    assert email["slow"] and email["served_by"] == "email_1" and email["p95_ms"] == 253
    color_sort = [
        r
        for r in report.shapes
        if r["ns"] == "testdb.vehicles" and r["shape"].get("sort") == {"brand": -1}
    ]
    assert {r["served_by"] for r in color_sort} == {"color_1_brand_1"}  # backwards scan
    assert report.to_dict()["totals"]["slow_shapes"] == 13
    assert any("unfiltered collection scan" in f for f in report.findings)
    assert any("served by index email_1" in f for f in report.findings)
    assert report.shapes[0]["op"] == "insert" and report.shapes[0]["count"] == 10_175


def test_synthetic_log_gzip_and_plain_agree(tmp_path: Path) -> None:
    entries = [other_entry(), *orders_collscan(5)]
    plain = write_log(tmp_path / "mongod.log", entries)
    zipped = write_log(tmp_path / "mongod.log.1", entries, zipped=True)  # no .gz suffix
    a = StatsTable().add_all(MongodLogReader(plain).records())
    b = StatsTable().add_all(MongodLogReader(zipped).records())
    assert {k: v.to_dict() for k, v in a.shapes.items()} == {
        k: v.to_dict() for k, v in b.shapes.items()
    }
    (s,) = a.shapes.values()
    assert s.count == 5 and s.in_memory_sort_share == 1.0 and s.apps == {"shop": 5}
    (sug,) = analyze(list(a.shapes.values())).suggestions
    assert sug.key == (("status", 1), ("total", -1), ("created", 1))


def test_unreadable_lines_are_counted_not_fatal(tmp_path: Path) -> None:
    entries: list = [
        *orders_collscan(2),
        "{not json",
        "",
        "plain text in the middle",
        json.dumps({"t": {"$date": "x"}, "msg": "Slow query", "id": 51803, "attr": {"ns": "a.b"}}),
        *orders_collscan(1, start=10),
    ]
    reader = MongodLogReader(write_log(tmp_path / "m.log", entries))
    records = list(reader.records())
    assert len(records) == 3
    assert reader.counts.unreadable == 3
    assert reader.counts.examples[0] == "line 3: not a mongod JSON log entry"
    assert "malformed slow-query entry" in reader.counts.examples[2]


def test_commands_of_every_kind(tmp_path: Path) -> None:
    entries = [
        slow_entry(
            "db.c",
            {
                "aggregate": "c",
                "pipeline": [{"$match": {"a": 1}}, {"$sort": {"b": -1}}, {"$group": {"_id": "$a"}}],
            },
            150,
        ),
        slow_entry("db.c", {"count": "c", "query": {"a": {"$gt": 1}}}, 150),
        slow_entry("db.c", {"distinct": "c", "key": "k", "query": {"a": 1}}, 150),
        slow_entry(
            "db.c",
            {
                "findAndModify": "c",
                "query": {"a": 1},
                "sort": {"b": 1},
                "update": {"$set": {"x": 1}},
            },
            150,
        ),
        slow_entry(
            "db.c",
            {"q": {"a": 1}, "u": {"$set": {"b": 2}}},
            150,
            kind="update",
            nMatched=1,
            docsExamined=9,
        ),
        slow_entry("db.c", {"q": {"a": 1}, "limit": 1}, 150, kind="remove", ndeleted=1),
        slow_entry(
            "db.c",
            {"getMore": 1, "collection": "c"},
            150,
            originatingCommand={"find": "c", "filter": {"z": 1}},
        ),
        slow_entry("db.$cmd", {"update": "c", "updates": [{"q": {"a": 1}}, {"q": {"b": 1}}]}, 300),
        slow_entry("db.c", {"$truncated": '{ find: "c", filter: { a: "xxxxx...'}, 900),
    ]
    reader = MongodLogReader(write_log(tmp_path / "m.log", entries))
    records = list(reader.records())
    got = [(r.op, r.ns, r.filter, r.sort, r.duration_ms) for r in records]
    assert got == [
        (Op.AGGREGATE, "db.c", {"a": 1}, {"b": -1}, 150),
        (Op.COUNT, "db.c", {"a": {"$gt": 1}}, None, 150),
        (Op.DISTINCT, "db.c", {"a": 1}, None, 150),
        (Op.FIND_AND_MODIFY, "db.c", {"a": 1}, {"b": 1}, 150),
        (Op.UPDATE, "db.c", {"a": 1}, None, 150),
        (Op.DELETE, "db.c", {"a": 1}, None, 150),
        (Op.GET_MORE, "db.c", {"z": 1}, None, 150),
        (Op.UPDATE, "db.c", {"a": 1}, None, 150),
        (Op.UPDATE, "db.c", {"b": 1}, None, 150),
        (Op.FIND, "db.c", None, None, 900),
    ]
    assert records[0].stages == ("$match", "$sort", "$group")
    assert records[4].n_returned == 1 and records[4].docs_examined == 9
    assert records[-1].truncated
    assert reader.counts.unreadable == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x00\x01\x02 binary junk\n" * 60, "no line is a mongod JSON log entry"),
        (
            b"2019-03-01T10:00:00.000+0000 I COMMAND  [conn1] command db.c find\n" * 3,
            "legacy text log",
        ),
        (
            json.dumps({"op": "query", "ns": "a.b", "millis": 5}).encode() + b"\n",
            "system.profile export",
        ),
        (b"name,age\nbob,3\n", "not a mongod log"),
    ],
)
def test_foreign_files_are_refused(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "file"
    path.write_bytes(content)
    with pytest.raises(InvalidInput, match=message):
        list(MongodLogReader(path).records())


def test_missing_file_and_empty_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="cannot read log"):
        MongodLogReader(tmp_path / "nope.log")
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    reader = MongodLogReader(empty)
    assert list(reader.records()) == [] and reader.counts.lines == 0


def test_truncated_gzip_keeps_what_was_read(tmp_path: Path) -> None:
    data = gzip.compress(("\n".join(json.dumps(e) for e in orders_collscan(400)) + "\n").encode())
    path = tmp_path / "cut.log.gz"
    path.write_bytes(data[: len(data) * 2 // 3])
    reader = MongodLogReader(path)
    records = list(reader.records())
    assert 0 < len(records) < 400
    assert reader.counts.unreadable >= 1
    assert "stopped reading" in reader.counts.examples[-1]


def test_resume_reads_only_new_lines_and_waits_for_a_partial_line(tmp_path: Path) -> None:
    path = write_log(tmp_path / "m.log", orders_collscan(3))
    first = MongodLogReader(path, follow=True)
    assert len(list(first.records())) == 3
    with path.open("a") as f:
        f.write(json.dumps(orders_collscan(1, start=50)[0]) + "\n")
        f.write(json.dumps(orders_collscan(1, start=60)[0])[:40])  # being written
    second = MongodLogReader(path, start=first.position(), follow=True)
    assert len(list(second.records())) == 1
    with path.open("a") as f:
        f.write(json.dumps(orders_collscan(1, start=60)[0])[40:] + "\n")
    third = MongodLogReader(path, start=second.position(), follow=True)
    assert [r.duration_ms for r in third.records()] == [400]
    assert third.position()["offset"] == path.stat().st_size


def test_rotated_file_is_read_from_the_top(tmp_path: Path) -> None:
    path = write_log(tmp_path / "m.log", orders_collscan(3))
    first = MongodLogReader(path)
    list(first.records())
    path.rename(tmp_path / "m.log.1")
    write_log(path, orders_collscan(2))
    again = MongodLogReader(path, start=first.position())
    assert len(list(again.records())) == 2
    truncated = MongodLogReader(
        path, start={"identity": again.position()["identity"], "offset": 10**9}
    )
    assert len(list(truncated.records())) == 2


def test_mongodb_8_hashes_are_kept(tmp_path: Path) -> None:
    entry = slow_entry(
        "db.c",
        {"find": "c", "filter": {"a": 1}},
        150,
        planSummary="EXPRESS_IXSCAN { a: 1 }",
        planCacheShapeHash="0A1B2C3D",
        queryShapeHash="9F" * 32,
        docsExamined=1,
        nreturned=1,
    )
    (s,) = (
        StatsTable()
        .add_all(MongodLogReader(write_log(tmp_path / "m.log", [entry])).records())
        .shapes.values()
    )
    assert dict(s.query_hashes) == {"0A1B2C3D": 1}
    assert dict(s.query_shape_hashes) == {"9F" * 32: 1}
    row = analyze([s]).shapes[0]
    assert row["served_by"] == "a_1" and row["query_shape_hashes"] == ["9F" * 32]


def test_reader_registry() -> None:
    from scheduler.queries.readers import reader_class
    from workers.errors import UnknownName

    assert reader_class("log") is MongodLogReader
    with pytest.raises(UnknownName, match="known: listener, log, profile, profile-export"):
        reader_class("syslog")
