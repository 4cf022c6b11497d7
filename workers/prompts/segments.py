"""Lines and sentences of masked text: the units passes delete, fold and compare."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import NamedTuple

from workers.prompts.doc import SENTINEL_CLASS, Doc, is_sentinel, sentinel_index
from workers.prompts.phrases import head_word
from workers.prompts.spans import Span

_HEADING = re.compile(r"[ \t]{0,3}#{1,6}[ \t]")
_BULLET = re.compile(r"[ \t]*(?:[-*+•]|\d{1,3}[.)])[ \t]+(?=\S)")
_LABEL = re.compile(
    rf"[ \t]*(?:[A-Za-z][\w()/-]*|{SENTINEL_CLASS})(?:[ \t]+[\w()/-]+){{0,2}}:(?:[ \t]+|$)"
)
_FIRST_SENTINEL = "\U000f0000"
_BULLET_HEADS = frozenset("-*+•")
_ONLY_SENTINELS = re.compile(rf"[ \t]*(?:{SENTINEL_CLASS}[ \t]*)+")
#: A sentence end: punctuation, closing quotes or brackets, then space and (captured) the
#: next visible character.
_BOUNDARY = re.compile(r"[.!?][.!?]*[\"')\]]*(?=[ \t\n]+(\S))")  # a class first: fast scan
_ABBREVIATIONS = frozenset(
    "etc vs inc ltd co corp dr mr mrs ms st no approx incl fig al cf resp e.g i.e".split()
)
_LONGEST_ABBREVIATION = max(len(a) for a in _ABBREVIATIONS)
#: What may come right before a sentence (past spaces): a line break, sentence-ending
#: punctuation or a closer after it, a list marker ("-", "1.", "1)") or a label's colon.
_MAY_PRECEDE_A_SENTENCE = frozenset("\n.!?\"')]-*+•:")


class LineKind(StrEnum):
    """What a line of masked text is, which decides the passes that may touch it."""

    BLANK = "blank"
    HEADING = "heading"
    BULLET = "bullet"
    LABEL = "label"
    BLOCK = "block"
    PROSE = "prose"


class Line(NamedTuple):
    """One line: [start, end) without its newline; ``body`` is where its content begins."""

    start: int
    end: int
    kind: LineKind
    body: int


class Sentence(NamedTuple):
    """A sentence of prose, a bullet item or a label's value; ``end`` includes its period."""

    start: int
    end: int
    kind: LineKind
    group: int
    first: bool
    last: bool


def split_lines(text: str) -> list[Line]:
    """Every line of ``text`` with its kind.

    A ``Label: value`` line counts as a label (a record field, left alone by dedupe and
    openers) only when its paragraph has another one; a lone "Remember: ..." is prose.
    """
    lines: list[Line] = []
    start = 0
    labels_seen = False
    for raw in text.split("\n"):
        end = start + len(raw)
        line = _classify(raw, start, end)
        labels_seen = labels_seen or line.kind is LineKind.LABEL
        lines.append(line)
        start = end + 1
    i = 0
    while labels_seen and i < len(lines):
        j = i
        while j < len(lines) and lines[j].kind is not LineKind.BLANK:
            j += 1
        labels = [k for k in range(i, j) if lines[k].kind is LineKind.LABEL]
        if len(labels) == 1:
            line = lines[labels[0]]
            indent = len(text[line.start : line.end]) - len(text[line.start : line.end].lstrip())
            lines[labels[0]] = Line(line.start, line.end, LineKind.PROSE, line.start + indent)
        i = j + 1
    return lines


def _classify(raw: str, start: int, end: int) -> Line:
    stripped = raw.lstrip()
    if not stripped:
        return Line(start, end, LineKind.BLANK, end)
    indent = len(raw) - len(stripped)
    head = stripped[0]
    if head >= _FIRST_SENTINEL and _ONLY_SENTINELS.fullmatch(raw):
        return Line(start, end, LineKind.BLOCK, start)
    if head == "#" and _HEADING.match(raw):
        return Line(start, end, LineKind.HEADING, start)
    if head in _BULLET_HEADS or head.isdigit():
        bullet = _BULLET.match(raw)
        if bullet:
            return Line(start, end, LineKind.BULLET, start + bullet.end())
    if ":" in raw:
        label = _LABEL.match(raw)
        if label:
            return Line(start, end, LineKind.LABEL, start + label.end())
    return Line(start, end, LineKind.PROSE, start + indent)


def sentences(doc: Doc, lines: list[Line]) -> list[Sentence]:
    """Sentences of prose runs (consecutive prose lines), bullet items and label values."""
    return _sentences(doc.text, doc.spans, lines)


def _sentences(text: str, spans: tuple[Span, ...], lines: list[Line]) -> list[Sentence]:
    found: list[Sentence] = []
    group = 0
    i = 0
    n = len(lines)
    while i < n:
        line = lines[i]
        kind = line.kind
        if kind is LineKind.BULLET or kind is LineKind.LABEL:
            found.extend(_split(text, spans, line.body, line.end, kind, group))
            group += 1
            i += 1
        elif kind is LineKind.PROSE:
            j = i
            while j + 1 < n and lines[j + 1].kind is LineKind.PROSE:
                j += 1
            found.extend(_split(text, spans, line.body, lines[j].end, LineKind.PROSE, group))
            group += 1
            i = j + 1
        else:
            i += 1
    return found


def _split(
    text: str, table: tuple[Span, ...], start: int, end: int, kind: LineKind, group: int
) -> list[Sentence]:
    spans: list[tuple[int, int]] = []
    cursor = start
    for match in _BOUNDARY.finditer(text, start, end):
        if text[match.start()] == "." and _is_abbreviation(table, text, cursor, match.start()):
            continue
        following = match.group(1)
        if following.isalpha() and following.islower():
            continue
        spans.append((cursor, match.end()))
        cursor = match.start(1)
    tail_end = cursor + len(text[cursor:end].rstrip(" \t\n"))
    if tail_end > cursor:
        spans.append((cursor, tail_end))
    last = len(spans) - 1
    return [Sentence(s, e, kind, group, n == 0, n == last) for n, (s, e) in enumerate(spans)]


def _is_abbreviation(table: tuple[Span, ...], text: str, start: int, end: int) -> bool:
    """True if the period at ``end`` closes an abbreviation ("e.g.", "vs.", "Inc.")."""
    if end <= start:
        return False
    if is_sentinel(text[end - 1]):
        return table[sentinel_index(text[end - 1])].text.lower() in _ABBREVIATIONS
    word = end
    while word > start and end - word < _LONGEST_ABBREVIATION and text[word - 1].isalpha():
        word -= 1
    return text[word:end].lower() in _ABBREVIATIONS


def doc_lines(doc: Doc) -> list[Line]:
    """``split_lines`` of the doc's text, computed once per text."""
    found = doc.memo.get("lines")
    if found is None:
        _segment(doc)
        found = doc.memo["lines"]
    return found


def doc_sentences(doc: Doc) -> list[Sentence]:
    """``sentences`` of the doc, computed once per text."""
    found = doc.memo.get("sentences")
    if found is None:
        _segment(doc)
        found = doc.memo["sentences"]
    return found


def _segment(doc: Doc) -> None:
    """Lines, sentences and sentence heads, paragraph by paragraph, reusing paragraphs seen
    before.

    Nothing in segmentation looks across a blank line, so a paragraph's lines and sentences
    depend on its own text only; a pass that edits one paragraph leaves the others cached.
    """
    cache: dict[str, tuple[list[Line], list[Sentence], int, list[str]]] = doc.shared.setdefault(
        "segments", {}
    )
    lines: list[Line] = []
    found: list[Sentence] = []
    heads: list[str] = []
    offset = 0
    groups = 0
    for chunk in doc.text.split("\n\n"):
        entry = cache.get(chunk)
        if entry is None:
            own = split_lines(chunk)
            own_sentences = _sentences(chunk, doc.spans, own)
            count = own_sentences[-1].group + 1 if own_sentences else 0
            own_heads = [head_word(chunk, s.start) for s in own_sentences]
            entry = cache[chunk] = (own, own_sentences, count, own_heads)
        own, own_sentences, count, own_heads = entry
        if not offset:
            lines.extend(own)
            found.extend(own_sentences)
        else:
            moved_lines, moved_sentences = _placed(own, own_sentences, offset, groups)
            lines.extend(moved_lines)
            found.extend(moved_sentences)
        heads.extend(own_heads)
        offset += len(chunk) + 2
        groups += count
    doc.memo["lines"] = lines
    doc.memo["sentences"] = found
    doc.memo["head_list"] = heads


def _placed(
    own: list[Line], own_sentences: list[Sentence], offset: int, groups: int
) -> tuple[list[Line], list[Sentence]]:
    """A paragraph's lines (after the blank line before it) and sentences, moved to
    ``offset`` with group numbers after ``groups``.

    Runs for every paragraph of every new text, so the tuples are built without the named
    constructor's keyword handling.
    """
    new = tuple.__new__
    lines = [new(Line, (offset - 1, offset - 1, LineKind.BLANK, offset - 1))]
    lines += [new(Line, (a + offset, b + offset, k, c + offset)) for a, b, k, c in own]
    found = [
        new(Sentence, (a + offset, b + offset, k, g + groups, first, last))
        for a, b, k, g, first, last in own_sentences
    ]
    return lines, found


def sentence_heads(doc: Doc) -> dict[int, str]:
    """Sentence start → its first word (lower case, plain apostrophes; see ``head_word``),
    computed once per text for the passes that look for openers."""
    found = doc.memo.get("heads")
    if found is None:
        starts = [s.start for s in doc_sentences(doc)]
        found = doc.memo["heads"] = dict(zip(starts, doc.memo["head_list"], strict=True))
    return found


def sentence_start_list(doc: Doc) -> list[int]:
    """Sentence starts in order (for bisecting), computed once per text."""
    found = doc.memo.get("sentence_start_list")
    if found is None:
        found = doc.memo["sentence_start_list"] = [s.start for s in doc_sentences(doc)]
    return found


def is_sentence_start(doc: Doc, pos: int) -> bool:
    """``pos in sentence_starts(doc)``, answered without segmenting when the character
    before ``pos`` (past spaces and tabs) cannot precede a sentence: a sentence starts a
    text, a line, a list item or label value, or follows closing punctuation."""
    text = doc.text
    before = pos
    while before > 0 and text[before - 1] in " \t":
        before -= 1
    if before and text[before - 1] not in _MAY_PRECEDE_A_SENTENCE:
        return False
    return pos in sentence_starts(doc)


def sentence_starts(doc: Doc) -> frozenset[int]:
    """Offsets where a sentence (or bullet item, or label value) begins."""
    found = doc.memo.get("starts")
    if found is None:
        found = doc.memo["starts"] = frozenset(s.start for s in doc_sentences(doc))
    return found
