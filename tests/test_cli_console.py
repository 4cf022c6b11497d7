"""Piped command output keeps wide tables on one line per row."""

from __future__ import annotations

import pytest
from rich.table import Table

from workers.cli.console import PIPED_WIDTH, make_console


def test_piped_output_does_not_wrap_wide_tables(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    out = make_console()
    assert out.width == PIPED_WIDTH
    table = Table()
    for n in range(12):
        table.add_column(f"column number {n}")
    table.add_row(*[f"value {n} " * 2 for n in range(12)])
    out.print(table)
    rows = [line for line in capsys.readouterr().out.splitlines() if "value 0" in line]
    assert len(rows) == 1 and "value 11" in rows[0]


def test_columns_still_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    assert make_console().width == 100
