"""One-shot analysis of one input (a log file, a profile export, a live database): the CLI's
engine, also usable from code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pymongo.database import Database
from pymongo.errors import PyMongoError

from scheduler.queries.analysis import DEFAULT_THRESHOLD_MS, Report, analyze
from scheduler.queries.explain import confirm
from scheduler.queries.plans import IndexKey, index_keys_from_list
from scheduler.queries.readers.base import Reader
from scheduler.queries.readers.mongod_log import MongodLogReader
from scheduler.queries.readers.profile_export import ProfileExportReader
from scheduler.queries.readers.profile_live import LiveProfileReader
from scheduler.queries.stats import StatsTable

PROFILER_OFF = (
    "the profiler recorded nothing: enable it with db.setProfilingLevel(1, { slowms: 100 })"
)


def _run(
    reader: Reader, threshold_ms: float, indexes: dict[str, list[IndexKey]] | None = None
) -> tuple[Report, StatsTable]:
    table = StatsTable().add_all(reader.records())
    report = analyze(list(table.shapes.values()), threshold_ms=threshold_ms, indexes=indexes)
    report.sources = [{"source": reader.source, **reader.counts.to_dict()}]
    if reader.counts.unreadable:
        report.notes.append(f"{reader.counts.unreadable:,} unreadable line(s) skipped")
    return report, table


def analyze_log(path: Path, threshold_ms: float = DEFAULT_THRESHOLD_MS) -> Report:
    """Analyze a mongod JSON log (plain or gzip). Raises ``InvalidInput`` for a foreign file."""
    return _run(MongodLogReader(path), threshold_ms)[0]


def analyze_profile_export(path: Path, threshold_ms: float = DEFAULT_THRESHOLD_MS) -> Report:
    """Analyze a ``system.profile`` export (JSON lines or array, Extended JSON)."""
    return _run(ProfileExportReader(path), threshold_ms)[0]


def analyze_database(
    db: Database[Any], threshold_ms: float = DEFAULT_THRESHOLD_MS, *, explain: bool = True
) -> Report:
    """Analyze ``db.system.profile`` with the collections' real indexes, then explain.

    Raises ``BackendUnavailable`` when the profile cannot be read.
    """
    reader = LiveProfileReader(db)
    table = StatsTable().add_all(reader.records())
    indexes: dict[str, list[IndexKey]] = {}
    for ns in {s.shape.ns for s in table.shapes.values()}:
        coll = ns.partition(".")[2]
        if ns.partition(".")[0] != db.name or not coll:
            continue
        try:
            indexes[ns] = index_keys_from_list(db[coll].list_indexes())
        except PyMongoError:
            continue
    stats = list(table.shapes.values())
    report = analyze(stats, threshold_ms=threshold_ms, indexes=indexes)
    report.sources = [{"source": reader.source, **reader.counts.to_dict()}]
    if not reader.counts.lines:
        report.notes.append(PROFILER_OFF)
    if explain and report.suggestions:
        report.notes += confirm(
            {db.name: db}, report.suggestions, {s.shape.id: s.shape for s in stats}
        )
    return report
