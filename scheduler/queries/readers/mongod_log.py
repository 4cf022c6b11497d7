"""mongod structured JSON logs (MongoDB 4.4+), plain or gzip, streamed line by line.

Only "Slow query" entries (id 51803) become records; other messages are counted as skipped.
A line that is not JSON, or a slow-query entry without its fields, is counted as unreadable
and the reading goes on. A file with no mongod entry in its first lines is refused.

Resuming: ``position()`` gives the file's identity (device, inode) and the byte offset after
the last complete line read. A later reader with that ``start`` seeks there; when the file was
replaced or truncated (log rotation) it starts again from the top. With ``follow=True`` a last
line without its newline is left for the next run (mongod may be writing it).
"""

from __future__ import annotations

import gzip
import json
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from scheduler.queries.operation import operation_records
from scheduler.queries.readers.base import ReadCounts
from scheduler.queries.record import QueryRecord
from workers.errors import InvalidInput

#: The log id of "Slow query" entries since MongoDB 4.4.
SLOW_QUERY_ID = 51803
#: Non-blank lines inspected before deciding a file is not a mongod log at all.
PROBE_LINES = 50
_GZIP_MAGIC = b"\x1f\x8b"
_LEGACY_LINE = re.compile(rb"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d{4}|Z)? +[IWEFD] ")


def _timestamp(entry: dict[str, Any]) -> datetime | None:
    t = entry.get("t")
    text = t.get("$date") if isinstance(t, dict) else None
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text).astimezone(UTC)
    except ValueError:
        return None


def _what_is_it(line: bytes) -> str | None:
    """A hint when the file is some other known format, for the error message."""
    if _LEGACY_LINE.match(line):
        return "a legacy text log (MongoDB 4.2 or older); only JSON logs (4.4+) are supported"
    try:
        doc = json.loads(line)
    except ValueError:
        return None
    if isinstance(doc, dict) and "op" in doc and "millis" in doc:
        return "a system.profile export; read it with --profile"
    return None


class MongodLogReader:
    """Reads one mongod log file; see the module docstring for resuming and errors."""

    def __init__(
        self,
        path: Path,
        *,
        start: dict[str, Any] | None = None,
        follow: bool = False,
        max_lines: int | None = None,
    ) -> None:
        self.path = Path(path)
        self.source = f"log {self.path}"
        self.counts = ReadCounts()
        self._follow = follow
        self._max_lines = max_lines
        self._identity: list[int] = []
        self._start = 0
        self._offset = 0
        try:
            st = os.stat(self.path)
        except OSError as exc:
            raise InvalidInput(f"cannot read log {self.path}: {exc.strerror}") from None
        self._identity = [st.st_dev, st.st_ino]
        offset = int((start or {}).get("offset", 0))
        same_file = bool(start) and start.get("identity") == self._identity  # type: ignore[union-attr]
        if same_file and (self._gzip() or offset <= st.st_size):
            self._start = offset
        self._offset = self._start

    def _gzip(self) -> bool:
        with open(self.path, "rb") as f:
            return f.read(2) == _GZIP_MAGIC

    def _open(self) -> IO[bytes]:
        try:
            if self._gzip():
                return gzip.open(self.path, "rb")  # type: ignore[return-value]
            return open(self.path, "rb")
        except OSError as exc:
            raise InvalidInput(f"cannot read log {self.path}: {exc.strerror}") from None

    def position(self) -> dict[str, Any]:
        return {"identity": self._identity, "offset": self._offset}

    def records(self) -> Iterator[QueryRecord]:
        with self._open() as f:
            if self._start:
                f.seek(self._start)
            try:
                yield from self._read(f)
            except (OSError, EOFError) as exc:  # a truncated or corrupt gzip member
                self.counts.bad("end of file", f"stopped reading: {exc}")

    def _read(self, f: IO[bytes]) -> Iterator[QueryRecord]:
        counts = self.counts
        probing = self._start == 0
        recognized = 0
        first_line: bytes | None = None
        for number, line in enumerate(f, start=1):
            if self._follow and not line.endswith(b"\n"):
                break
            if self._max_lines is not None and counts.lines >= self._max_lines:
                break
            self._offset += len(line)
            if not line.strip():
                continue
            counts.lines += 1
            first_line = first_line or line
            try:
                entry = json.loads(line)
            except ValueError:
                entry = None
            if not isinstance(entry, dict) or "t" not in entry or "msg" not in entry:
                counts.bad(f"line {number}", "not a mongod JSON log entry")
                if probing and not recognized and counts.lines >= PROBE_LINES:
                    self._refuse(first_line)
                continue
            recognized += 1
            if entry.get("id") != SLOW_QUERY_ID:
                counts.skipped["other log messages"] += 1
                continue
            attr = entry.get("attr")
            try:
                if not isinstance(attr, dict):
                    raise ValueError("no attr")
                ms = float(attr["durationMillis"])
                found = operation_records(
                    attr, str(attr.get("type", "command")), ms, _timestamp(entry)
                )
            except (KeyError, TypeError, ValueError) as exc:
                counts.bad(f"line {number}", f"malformed slow-query entry ({exc})")
                continue
            if isinstance(found, str):
                counts.skipped[found] += 1
                continue
            counts.records += len(found)
            yield from found
        if probing and not recognized and counts.lines:
            self._refuse(first_line)

    def _refuse(self, first_line: bytes | None) -> None:
        hint = _what_is_it(first_line or b"") or "no line is a mongod JSON log entry"
        raise InvalidInput(f"{self.path} is not a mongod log: {hint}")
