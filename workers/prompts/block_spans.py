"""Whole-line protected blocks: fenced and indented code, JSON, YAML, pipe tables, log lines.

Returns (start, end, kind) triples with ``kind`` a plain string (see ``spans.SpanKind``); a
block never includes the newline that ends its last line.
"""

from __future__ import annotations

import json
import re

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})([^`\n]*)$")
_INDENTED = re.compile(r"^(?: {4}|\t)[ \t]*\S")
_BULLET = re.compile(r"^[ \t]*(?:[-*+•]|\d{1,3}[.)])[ \t]+\S")
_TABLE = re.compile(r"^[ \t]*\|")
_LOG = re.compile(
    r"^[ \t]*(?:\[?\d{4}-\d{2}-\d{2}[T ]\d{1,2}:\d{2}"
    r"|\[?\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\]?[ \t]"
    r"|\[?(?:TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|FATAL|CRITICAL)\]?[ \t:])"
)
_ALIGNED = re.compile(r".*\S(?: {2,}|\t)\S.*\S(?: {2,}|\t)\S")
_YAML_HEADER = re.compile(r"^([ \t]*)(?:- )?[A-Za-z_][\w.-]*:[ \t]*$")
_YAML_KEY = re.compile(r"^([ \t]*)(?:- )?[A-Za-z_][\w.-]*:(?:[ \t]|$)")
_DECODER = json.JSONDecoder()
#: First characters a line must start with for each pattern to match: cheap tests that let
#: a line of prose skip the regexes.
_INDENTS = " \t"
_FENCE_HEADS = " `~"
_TABLE_HEADS = " \t|"
_LOG_HEADS = " \t[0123456789TDINWEFC"
#: Lines starting with any other character can only open an aligned or YAML block (or a log
#: line at one of ``_LEVELS``), which ``_may_open_block`` tests without a regex.
_OPENING_HEADS = " \t`~{[|0123456789"
_LEVELS = ("TRACE", "DEBUG", "INFO", "NOTICE", "WARN", "ERROR", "FATAL", "CRITICAL")

Block = tuple[int, int, str]


def find_blocks(text: str) -> list[Block]:
    """Every protected block of ``text``, in order, non-overlapping."""
    lines = text.split("\n")
    offsets = [0] * len(lines)
    pos = 0
    for i, line in enumerate(lines):
        offsets[i] = pos
        pos += len(line) + 1
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        found = _block_at(text, lines, offsets, i) if _may_open_block(lines[i]) else None
        if found is None:
            i += 1
            continue
        last, end, kind = found
        blocks.append((offsets[i], end, kind))
        i = last + 1
    return blocks


def _may_open_block(line: str) -> bool:
    """False for most lines of prose, which then skip ``_block_at`` and its regexes."""
    head = line[:1]
    return bool(head) and (
        head in _OPENING_HEADS
        or line.startswith(_LEVELS)
        or "  " in line
        or "\t" in line
        or line.rstrip(" \t").endswith(":")
    )


def _block_at(
    text: str, lines: list[str], offsets: list[int], i: int
) -> tuple[int, int, str] | None:
    """(last line index, end offset, kind) of a block starting at line ``i``, or None."""
    line = lines[i]
    head = line[:1]
    indented = head in _INDENTS
    end_of = lambda j: offsets[j] + len(lines[j])  # noqa: E731
    fence = _FENCE.match(line) if head in _FENCE_HEADS else None
    if fence:
        last = _fence_end(lines, i, fence.group(1))
        kind = "json" if _is_json_fence(lines, i, last, fence.group(2)) else "code"
        return last, end_of(last), kind
    if indented and _INDENTED.match(line) and _starts_paragraph(lines, i):
        last = _indented_end(lines, i)
        return last, end_of(last), "code"
    stripped = line.lstrip() if indented else line
    if stripped[:1] in ("{", "["):
        found = _json_at(text, offsets[i] + len(line) - len(stripped))
        if found is not None:
            last = _line_of(offsets, found, i)
            return last, found, "json"
    for pattern, kind, heads in ((_TABLE, "table", _TABLE_HEADS), (_LOG, "log", _LOG_HEADS)):
        if head in heads and pattern.match(line):
            last = i
            while last + 1 < len(lines) and pattern.match(lines[last + 1]):
                last += 1
            return last, end_of(last), kind
    if _aligned(line) and i + 1 < len(lines) and _aligned(lines[i + 1]):
        last = i + 1
        while last + 1 < len(lines) and _aligned(lines[last + 1]):
            last += 1
        return last, end_of(last), "code"
    if line.rstrip(" \t").endswith(":") and _YAML_HEADER.match(line):
        last = _yaml_end(lines, i)
        if last > i:
            return last, end_of(last), "yaml"
    return None


def _aligned(line: str) -> bool:
    return ("  " in line or "\t" in line) and _ALIGNED.match(line) is not None


def _fence_end(lines: list[str], i: int, opener: str) -> int:
    closer = re.compile(rf"^ {{0,3}}{re.escape(opener[0])}{{{len(opener)},}}[ \t]*$")
    for j in range(i + 1, len(lines)):
        if closer.match(lines[j]):
            return j
    return len(lines) - 1


def _is_json_fence(lines: list[str], i: int, last: int, info: str) -> bool:
    if info.strip().lower() != "json" or last == i:
        return False
    try:
        json.loads("\n".join(lines[i + 1 : last]))
    except ValueError:
        return False
    return True


def _starts_paragraph(lines: list[str], i: int) -> bool:
    """Indented code needs a blank line before it and must not continue a list item."""
    if i > 0 and lines[i - 1].strip():
        return False
    j = i - 1
    while j >= 0 and not lines[j].strip():
        j -= 1
    return j < 0 or not _BULLET.match(lines[j])


def _indented_end(lines: list[str], i: int) -> int:
    last = i
    j = i + 1
    while j < len(lines):
        if _INDENTED.match(lines[j]):
            last = j
        elif lines[j].strip():
            break
        j += 1
    return last


def _json_at(text: str, start: int) -> int | None:
    """End offset of a JSON object/array starting at ``start`` that ends its line."""
    try:
        value, end = _DECODER.raw_decode(text, start)
    except ValueError:
        return None
    if not isinstance(value, dict | list) or not value:
        return None
    newline = text.find("\n", end)
    rest = text[end : len(text) if newline < 0 else newline]
    return end if not rest.strip() else None


def _line_of(offsets: list[int], pos: int, hint: int) -> int:
    j = hint
    while j + 1 < len(offsets) and offsets[j + 1] <= pos:
        j += 1
    return j


def _yaml_end(lines: list[str], i: int) -> int:
    """Last line of a YAML mapping that opens at header line ``i`` with a nested line."""
    indent = len(_YAML_HEADER.match(lines[i]).group(1))  # type: ignore[union-attr]
    last = i
    j = i + 1
    while j < len(lines):
        line = lines[j]
        if not line.strip():
            if j + 1 < len(lines) and _nested(lines[j + 1], indent):
                j += 1
                continue
            break
        depth = len(line) - len(line.lstrip())
        key = _YAML_KEY.match(line)
        if depth > indent or (key and depth == indent):
            last = j
            j += 1
            continue
        break
    if last == i or not _nested(lines[i + 1], indent):
        return i
    return last


def _nested(line: str, indent: int) -> bool:
    return bool(line.strip()) and len(line) - len(line.lstrip()) > indent
