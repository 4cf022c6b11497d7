"""What every reader of operations provides: records, counts, and where to resume."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from scheduler.queries.record import QueryRecord

#: Examples of unreadable input kept for the report (line numbers or entry ids).
MAX_EXAMPLES = 5


@dataclass(slots=True)
class ReadCounts:
    """What a reader saw: ``unreadable`` input is counted and reported, never fatal."""

    lines: int = 0
    records: int = 0
    unreadable: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    def bad(self, where: str, why: str) -> None:
        self.unreadable += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(f"{where}: {why}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "lines": self.lines,
            "records": self.records,
            "unreadable": self.unreadable,
            "skipped": dict(self.skipped.most_common()),
            "unreadable_examples": self.examples,
        }


class Reader(Protocol):
    """One input of operations. ``records()`` may be consumed once.

    ``position()`` is JSON-ready and tells a later reader of the same input where to resume
    (after the last record yielded); readers take it back as ``start``.
    """

    source: str
    counts: ReadCounts

    def records(self) -> Iterator[QueryRecord]: ...

    def position(self) -> dict[str, Any]: ...
