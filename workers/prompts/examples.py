"""Few-shot examples: paragraphs headed ``Example N`` or made of ``Label: value`` records.

Consecutive example paragraphs of the same shape form a group; passes dedupe or cap a group
and renumber its ``Example N`` headers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from workers.prompts.doc import Doc
from workers.prompts.edits import Edit
from workers.prompts.segments import Line, LineKind, doc_lines

_HEADER = re.compile(r"[ \t]*(?:#{1,6}[ \t]*)?(?:\*\*)?Example(?:[ \t]+(\d{1,3}))?\b", re.I)
_LABEL_NAME = re.compile(r"[ \t]*([^:]+):")


@dataclass(frozen=True)
class Paragraph:
    """A run of non-blank lines: indexes into the line list, first and last inclusive."""

    first: int
    last: int


@dataclass(frozen=True)
class Example:
    """One example: its paragraphs' lines, its shape and its header number if any."""

    lines: tuple[Line, ...]
    shape: tuple[str, ...]
    number: int | None
    number_at: int | None


def paragraphs(lines: list[Line]) -> list[Paragraph]:
    found: list[Paragraph] = []
    i = 0
    while i < len(lines):
        if lines[i].kind is LineKind.BLANK:
            i += 1
            continue
        j = i
        while j + 1 < len(lines) and lines[j + 1].kind is not LineKind.BLANK:
            j += 1
        found.append(Paragraph(i, j))
        i = j + 1
    return found


def example_groups(doc: Doc) -> list[list[Example]]:
    """Groups of two or more consecutive examples of the same shape (memoized per text)."""
    found = doc.memo.get("examples")
    if found is None:
        possible = doc.text.count(":") >= 4 or "xample" in doc.text
        found = doc.memo["examples"] = _groups(doc, doc_lines(doc)) if possible else []
    return found


def example_lines(doc: Doc) -> frozenset[int]:
    """Start offsets of every line that belongs to a few-shot example."""
    found = doc.memo.get("example_lines")
    if found is None:
        found = doc.memo["example_lines"] = frozenset(
            line.start for group in example_groups(doc) for ex in group for line in ex.lines
        )
    return found


def _groups(doc: Doc, lines: list[Line]) -> list[list[Example]]:
    groups: list[list[Example]] = []
    current: list[Example] = []
    paras = paragraphs(lines)
    k = 0
    while k < len(paras):
        example, used = _example_at(doc, lines, paras, k)
        if example is not None and (not current or current[-1].shape == example.shape):
            current.append(example)
            k += used
            continue
        if len(current) > 1:
            groups.append(current)
        current = [example] if example is not None else []
        k += used if example is not None else 1
    if len(current) > 1:
        groups.append(current)
    return groups


def _example_at(
    doc: Doc, lines: list[Line], paras: list[Paragraph], k: int
) -> tuple[Example | None, int]:
    para = paras[k]
    own = lines[para.first : para.last + 1]
    header = _HEADER.match(doc.text, own[0].start, own[0].end)
    if header:
        used = 1
        if len(own) == 1 and k + 1 < len(paras) and not _is_header(doc, lines, paras[k + 1]):
            nxt = paras[k + 1]
            own = own + lines[nxt.first : nxt.last + 1]
            used = 2
        number = int(header.group(1)) if header.group(1) else None
        at = header.start(1) if header.group(1) else None
        return Example(tuple(own), ("example",), number, at), used
    if len(own) >= 2 and all(line.kind is LineKind.LABEL for line in own):
        shape = tuple(_label(doc, line) for line in own)
        return Example(tuple(own), shape, None, None), 1
    return None, 1


def _is_header(doc: Doc, lines: list[Line], para: Paragraph) -> bool:
    line = lines[para.first]
    return bool(_HEADER.match(doc.text, line.start, line.end))


def _label(doc: Doc, line: Line) -> str:
    match = _LABEL_NAME.match(doc.text, line.start, line.end)
    return doc.canonical(match.group(1)).strip().lower() if match else ""


def example_text(doc: Doc, example: Example) -> str:
    """The example's masked text without its header number (for keys and diversity)."""
    text = doc.text[example.lines[0].start : example.lines[-1].end]
    if example.number_at is not None:
        offset = example.number_at - example.lines[0].start
        digits = len(str(example.number))
        text = text[:offset] + text[offset + digits :]
    return text


def removal(doc: Doc, example: Example) -> Edit:
    """Delete an example's lines and the blank lines after it."""
    start = example.lines[0].start
    end = example.lines[-1].end
    text = doc.text
    while end < len(text) and text[end] == "\n":
        end += 1
    if end >= len(text):
        while start > 0 and text[start - 1] == "\n":
            start -= 1
    return Edit(start, end)


def renumber(group: list[Example], kept: list[Example]) -> list[Edit]:
    """Renumber the kept ``Example N`` headers when the whole group was numbered in sequence."""
    numbers = [e.number for e in group]
    if any(n is None for n in numbers) or not kept:
        return []
    first = numbers[0]
    if numbers != list(range(first, first + len(numbers))):  # type: ignore[operator, arg-type]
        return []
    edits = []
    for offset, example in enumerate(kept):
        want = first + offset  # type: ignore[operator]
        if example.number != want and example.number_at is not None:
            at = example.number_at
            edits.append(Edit(at, at + len(str(example.number)), str(want)))
    return edits
