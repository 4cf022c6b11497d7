"""Protected spans: the parts of a prompt no pass may alter.

Detection runs in two steps: whole-line blocks first (code, JSON, YAML, tables, logs), then
inline spans in the remaining text (inline code, placeholders, URLs, e-mail addresses, paths,
quoted strings, dates and times, numbers with units, identifiers, negations and modals).
Spans never overlap; an earlier or longer match wins.
"""

from __future__ import annotations

import json
from enum import StrEnum
from functools import lru_cache
from typing import NamedTuple

from workers.prompts.block_spans import find_blocks
from workers.prompts.inline_spans import find_inline


class SpanKind(StrEnum):
    """What a protected span holds; decides how its retention is checked."""

    CODE = "code"
    JSON = "json"
    YAML = "yaml"
    TABLE = "table"
    LOG = "log"
    INLINE_CODE = "inline_code"
    PLACEHOLDER = "placeholder"
    URL = "url"
    EMAIL = "email"
    PATH = "path"
    QUOTED = "quoted"
    DATETIME = "datetime"
    NUMBER = "number"
    IDENTIFIER = "identifier"
    NEGATION = "negation"
    OPAQUE = "opaque"


_KINDS = {kind.value: kind for kind in SpanKind}
#: Kinds that occupy whole lines; everything else sits inside a line of prose.
BLOCK_KINDS = frozenset({SpanKind.CODE, SpanKind.JSON, SpanKind.YAML, SpanKind.TABLE, SpanKind.LOG})


class Span(NamedTuple):
    """One protected piece of text: its kind and its exact bytes."""

    kind: SpanKind
    text: str

    @property
    def canonical(self) -> str:
        """The form retention is checked on: exact text, or the minified form of data.

        JSON and tables may be minified by a pass (same parsed value), so both sides are
        compared in their minified form.
        """
        if self.kind is SpanKind.JSON or self.kind is SpanKind.TABLE:
            return _canonical(self.kind, self.text)
        return self.text


def detect(
    text: str, protected_words: frozenset[str], units: frozenset[str]
) -> list[tuple[int, int, SpanKind]]:
    """Non-overlapping protected spans of ``text`` as sorted (start, end, kind) triples.

    ``protected_words`` are the language's negations and modals, ``units`` the unit words a
    number keeps with it ("30 days", "2 GiB").
    """
    found: list[tuple[int, int, str]] = []
    cursor = 0
    for start, end, kind in find_blocks(text):
        found.extend(find_inline(text, cursor, start, protected_words, units))
        found.append((start, end, kind))
        cursor = end
    found.extend(find_inline(text, cursor, len(text), protected_words, units))
    kinds = _KINDS
    return [(s, e, kinds[k]) for s, e, k in found]


@lru_cache(maxsize=1024)
def _canonical(kind: SpanKind, text: str) -> str:
    return minify_json_text(text) if kind is SpanKind.JSON else minify_table_text(text)


def minify_json_text(text: str) -> str:
    """Drop whitespace outside JSON strings, keeping every literal byte-identical.

    Works on a bare JSON value or on a fenced block (fence lines kept); text that does not
    parse, or whose minified form parses to a different value, comes back unchanged.
    """
    head, body, tail = _split_fence(text)
    stripped = body.strip()
    if not stripped:
        return text
    out: list[str] = []
    in_string = escaped = False
    for ch in stripped:
        if in_string:
            out.append(ch)
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
            out.append(ch)
        elif ch not in " \t\r\n":
            out.append(ch)
    minified = "".join(out)
    try:
        same = _pairs(stripped) == _pairs(minified)
    except ValueError:
        return text
    return f"{head}{minified}{tail}" if same else text


def minify_table_text(text: str) -> str:
    """Strip cell padding of a pipe table and shorten its delimiter row; cells unchanged."""
    rows = text.split("\n")
    out: list[str] = []
    for row in rows:
        line = row.strip()
        if not (line.startswith("|") and line.endswith("|") and len(line) > 1):
            return text
        if "\\|" in line or "`" in line:
            return text
        cells = [cell.strip() for cell in line[1:-1].split("|")]
        if all(_is_delimiter(cell) for cell in cells):
            cells = [_short_delimiter(cell) for cell in cells]
        out.append("|" + "|".join(cells) + "|")
    return "\n".join(out)


def _is_delimiter(cell: str) -> bool:
    core = cell.strip(":")
    return bool(core) and set(core) == {"-"} and len(cell) - len(core) <= 2


def _short_delimiter(cell: str) -> str:
    left = ":" if cell.startswith(":") else ""
    right = ":" if cell.endswith(":") else ""
    return f"{left}---{right}"


def _split_fence(text: str) -> tuple[str, str, str]:
    if not text.lstrip().startswith(("```", "~~~")):
        return "", text, ""
    first = text.find("\n")
    last = text.rfind("\n")
    if first < 0 or last <= first:
        return "", text, ""
    return text[: first + 1], text[first + 1 : last], text[last:]


def _pairs(text: str) -> object:
    """Parse keeping duplicate keys and key order, so 'same value' is strict."""
    return json.loads(text, object_pairs_hook=lambda pairs: ("object", pairs))
