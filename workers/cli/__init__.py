"""The `infra-mind` command.

Command groups of the scheduler (scaling, costs, queries, ...) are mounted by dotted name,
like the Celery app lists the scheduler's task module: ``workers`` never imports
``scheduler`` at module level.
"""

from __future__ import annotations

import logging
import sys

import typer

from workers.cli import api, doctor, exits, run, tasks
from workers.cli.errors import fail
from workers.dotted import load
from workers.errors import InfraMindError

app = typer.Typer(
    name="infra-mind",
    help="Distributed task workers for multi-agent LLM workloads.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command()(run.up)
app.command()(run.demo)
app.command()(tasks.submit)
app.command()(tasks.status)
app.command()(tasks.cancel)
app.command()(api.api)
app.command()(doctor.doctor)

#: (command group, "module:attribute" of its typer app). Mounted when the module imports.
GROUPS: list[tuple[str, str]] = [
    ("lb", "workers.routing.cli:app"),
    ("scale", "scheduler.autoscale.cli:app"),
    ("queries", "scheduler.queries.cli:app"),
    ("cache", "workers.cache.cli:app"),
    ("prompts", "workers.prompts.cli:app"),
]
#: (command, "module:function") of single commands that live in the scheduler.
COMMANDS: list[tuple[str, str]] = [
    ("costs", "scheduler.costs.cli:costs"),
    ("budgets", "scheduler.costs.cli:budgets"),
    ("resources", "scheduler.resources.cli:resources"),
]


def _mount() -> None:
    for name, target in GROUPS:
        app.add_typer(load(target), name=name)  # type: ignore[arg-type]
    for name, target in COMMANDS:
        app.command(name)(load(target))  # type: ignore[arg-type]


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    _mount()
    try:
        app()
    except InfraMindError as exc:
        raise SystemExit(fail(exc).exit_code) from None
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        raise SystemExit(exits.INTERRUPTED) from None
