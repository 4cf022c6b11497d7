"""A ``system.profile`` export: JSON lines (``mongoexport``) or one JSON array, Extended JSON.

Lines are decoded with ``bson.json_util`` so dates, ObjectIds and numbers come back as the
driver's types. JSON lines are streamed; a JSON array (``--jsonArray``) is read whole.
Resuming is by line number (exports are written once, not appended to).
"""

from __future__ import annotations

import gzip
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from bson import json_util

from scheduler.queries.operation import profile_records
from scheduler.queries.readers.base import ReadCounts
from scheduler.queries.record import QueryRecord
from workers.errors import InvalidInput

#: Documents inspected before deciding a file is not a profile export at all.
PROBE_DOCS = 50


class ProfileExportReader:
    """Reads one export file; unreadable documents are counted, a foreign file is refused."""

    def __init__(self, path: Path, *, start: dict[str, Any] | None = None) -> None:
        self.path = Path(path)
        self.source = f"profile export {self.path}"
        self.counts = ReadCounts()
        self._start = int((start or {}).get("line", 0))
        self._line = self._start

    def position(self) -> dict[str, Any]:
        return {"line": self._line}

    def _open(self) -> IO[bytes]:
        try:
            with open(self.path, "rb") as probe:
                zipped = probe.read(2) == b"\x1f\x8b"
            if zipped:
                return gzip.open(self.path, "rb")  # type: ignore[return-value]
            return open(self.path, "rb")
        except OSError as exc:
            raise InvalidInput(f"cannot read profile export {self.path}: {exc.strerror}") from None

    def _documents(self, f: IO[bytes]) -> Iterator[tuple[str, Any]]:
        head = f.read(1)
        while head in (b" ", b"\n", b"\r", b"\t"):
            head = f.read(1)
        if head == b"[":
            try:
                docs = json_util.loads(head + f.read())
            except ValueError as exc:
                raise InvalidInput(f"{self.path}: not a JSON array: {exc}") from None
            for number, doc in enumerate(docs, start=1):
                yield f"document {number}", doc
            return
        lines = itertools.chain([head + f.readline()], f) if head else iter(())
        for number, line in enumerate(lines, start=1):
            if number <= self._start:
                continue
            self._line = number
            if not line.strip():
                continue
            try:
                yield f"line {number}", json_util.loads(line)
            except ValueError as exc:
                yield f"line {number}", exc

    def records(self) -> Iterator[QueryRecord]:
        counts = self.counts
        recognized = 0
        with self._open() as f:
            for where, doc in self._documents(f):
                counts.lines += 1
                if not isinstance(doc, dict):
                    counts.bad(where, "not a JSON document")
                else:
                    try:
                        found = profile_records(doc)
                    except (KeyError, TypeError, ValueError) as exc:
                        counts.bad(where, f"not a profiler document ({exc})")
                    else:
                        recognized += 1
                        if isinstance(found, str):
                            counts.skipped[found] += 1
                        else:
                            counts.records += len(found)
                            yield from found
                if not recognized and counts.lines >= PROBE_DOCS:
                    break
        if counts.lines and not recognized and self._start == 0:
            raise InvalidInput(
                f"{self.path} is not a system.profile export: no document has op, ns, "
                "command and millis"
            )
