"""``infra-mind queries``: analyze slow MongoDB queries from a log, a profile export or a server.

A thin shell over ``oneshot``: pick the input, print a table (or ``--json``), map errors to
``error: <message>`` on stderr and the error's exit code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from pymongo import MongoClient, uri_parser
from pymongo.errors import ConfigurationError, InvalidURI, PyMongoError
from rich.console import Console
from rich.table import Table

from scheduler.queries import oneshot
from scheduler.queries.analysis import DEFAULT_THRESHOLD_MS, Report
from workers.cli.console import make_console
from workers.errors import BackendUnavailable, InfraMindError, InvalidInput

app = typer.Typer(help="Slow-query analysis for MongoDB.", no_args_is_help=True)

#: Seconds to find a server before `--mongo` gives up (exit 3).
CONNECT_TIMEOUT_S = 5.0
#: Shape text shown in one table cell (the JSON output has it whole).
SHAPE_WIDTH = 120


def _open_database(url: str) -> tuple[MongoClient[Any], Any]:
    try:
        name = uri_parser.parse_uri(url).get("database")
    except (InvalidURI, ConfigurationError, ValueError) as exc:
        raise InvalidInput(f"--mongo: invalid MongoDB URL: {exc}") from None
    if not name:
        raise InvalidInput("--mongo: the URL names no database (mongodb://host/<database>)")
    client: MongoClient[Any] = MongoClient(
        url, serverSelectionTimeoutMS=int(CONNECT_TIMEOUT_S * 1000), appname="infra-mind"
    )
    try:
        client.admin.command("ping")
    except PyMongoError as exc:
        client.close()
        raise BackendUnavailable(f"cannot reach MongoDB at --mongo URL: {exc}") from None
    return client, client[name]


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _render(report: Report, top: int, console: Console) -> None:
    body = report.to_dict()
    shapes = Table(title=f"Query shapes (slow: p95 > {report.threshold_ms:g} ms)")
    shapes.add_column("namespace · op · shape", overflow="fold", ratio=1)
    for name in ("count", "p50", "p95", "p99", "max", "ex/ret", "scan", "sort", "wasted"):
        shapes.add_column(name, justify="right", no_wrap=True)
    shapes.add_column("index", overflow="fold")
    for row in body["shapes"][:top]:
        shown = row["shape"] if row["shape"]["filter"] is not None else {}
        text = json.dumps(shown, separators=(",", ":")) if shown else ""
        if len(text) > SHAPE_WIDTH:
            text = text[:SHAPE_WIDTH] + "…"
        ratio = row["docs_examined_per_returned"]
        shapes.add_row(
            f"{row['ns']} {row['op']} {text}",
            f"{row['count']:,}",
            _ms(row["p50_ms"]),
            f"[red]{_ms(row['p95_ms'])}[/]" if row["slow"] else _ms(row["p95_ms"]),
            _ms(row["p99_ms"]),
            _ms(row["max_ms"]),
            "-" if ratio is None else f"{ratio:,.1f}",
            _share(row["collscan_share"]),
            _share(row["in_memory_sort_share"]),
            f"{row['wasted_docs']:,}",
            row["served_by"] or "-",
        )
    console.print(shapes)
    if body["suggestions"]:
        sugs = Table(title="Index suggestions")
        for name in ("ns", "key", "shapes", "saves", "command"):
            sugs.add_column(name)
        for sug in body["suggestions"]:
            saved = sug["expected_docs_examined_reduction"]
            sugs.add_row(
                sug["ns"], sug["name"], str(len(sug["shapes"])), _share(saved), sug["command"]
            )
        console.print(sugs)
    else:
        console.print("No index suggestions: no slow shape lacks a serving index.")
    for finding in body["findings"]:
        console.print(f"• {finding}")
    for source in body["sources"]:
        skipped = sum(source["skipped"].values())
        console.print(
            f"{source['source']}: {source['lines']:,} lines, {source['records']:,} "
            f"operations, {skipped:,} skipped, {source['unreadable']:,} unreadable"
        )
        for example in source["unreadable_examples"]:
            console.print(f"  unreadable {example}")
    for note in body["notes"]:
        console.print(f"note: {note}")


@app.callback()
def main() -> None:
    """Slow-query analysis for MongoDB."""


@app.command()
def analyze(
    log: Annotated[
        Path | None, typer.Option("--log", help="mongod JSON log (plain or .gz)")
    ] = None,
    profile: Annotated[
        Path | None,
        typer.Option(
            "--profile", help="system.profile export (JSON lines or array, Extended JSON)"
        ),
    ] = None,
    mongo: Annotated[
        str | None,
        typer.Option("--mongo", help="MongoDB URL with a database: read its system.profile"),
    ] = None,
    threshold_ms: Annotated[
        float,
        typer.Option("--threshold-ms", min=0, help="a shape is slow when its p95 is above this"),
    ] = DEFAULT_THRESHOLD_MS,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON to stdout")] = False,
    top: Annotated[int, typer.Option("--top", min=1, help="shapes shown in the table")] = 20,
) -> None:
    """Group operations by query shape, rank the slow ones and suggest indexes."""
    try:
        chosen = [
            name
            for name, value in (("--log", log), ("--profile", profile), ("--mongo", mongo))
            if value is not None
        ]
        if len(chosen) != 1:
            raise InvalidInput("give exactly one of --log FILE, --profile FILE, --mongo URL")
        if log is not None:
            report = oneshot.analyze_log(log, threshold_ms)
        elif profile is not None:
            report = oneshot.analyze_profile_export(profile, threshold_ms)
        else:
            client, db = _open_database(str(mongo))
            try:
                report = oneshot.analyze_database(db, threshold_ms)
            finally:
                client.close()
    except InfraMindError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(exc.exit_code) from None
    if as_json:
        typer.echo(json.dumps(report.to_dict(), default=str))
    else:
        _render(report, top, make_console())
