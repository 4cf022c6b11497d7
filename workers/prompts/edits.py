"""Applying deletions and replacements to masked text without leaving stray punctuation."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

_SPACE = " \t"
_CLOSERS = ".!?;:)]\n"


class Edit(NamedTuple):
    """Replace ``text[start:end]`` by ``replacement``."""

    start: int
    end: int
    replacement: str = ""


def apply_edits(text: str, edits: Iterable[Edit]) -> str:
    """Apply non-overlapping edits; an edit overlapping an earlier one is dropped."""
    out: list[str] = []
    cursor = 0
    for edit in sorted(edits):
        if edit.start < cursor:
            continue
        out.append(text[cursor : edit.start])
        out.append(edit.replacement)
        cursor = edit.end
    out.append(text[cursor:])
    return "".join(out)


def remove_inline(text: str, start: int, end: int) -> Edit:
    """Delete a word or phrase inside a sentence, with the space or comma that goes with it."""
    n = len(text)
    left = start
    while left > 0 and text[left - 1] in _SPACE:
        left -= 1
    right = end
    while right < n and text[right] in _SPACE:
        right += 1
    before = text[left - 1] if left > 0 else "\n"
    after = text[right] if right < n else "\n"
    if after == ",":
        if before == ",":
            return Edit(left - 1, right + 1)
        right += 1
        while right < n and text[right] in _SPACE:
            right += 1
        return Edit(start, right)
    if after in _CLOSERS:
        return Edit(left - 1 if before == "," else left, end)
    return Edit(start, right)


def remove_leading(text: str, start: int, end: int, capitalize: bool) -> Edit | None:
    """Delete a sentence opener and make the next word start the sentence.

    Returns None when nothing would be left of the sentence.
    """
    n = len(text)
    pos = end
    while pos < n and text[pos] in _SPACE:
        pos += 1
    if pos < n and text[pos] in ",:" and text[end - 1].isalnum():
        pos += 1
        while pos < n and text[pos] in _SPACE:
            pos += 1
    if pos >= n or text[pos] in ".!?;\n":
        return None
    char = text[pos]
    if capitalize and char.isalpha() and char.islower() and char.isascii():
        return Edit(start, pos + 1, char.upper())
    return Edit(start, pos)


def remove_sentence(text: str, start: int, end: int) -> Edit:
    """Delete a whole sentence; a sentence alone on its line takes the line with it."""
    n = len(text)
    right = end
    while right < n and text[right] in _SPACE:
        right += 1
    line_start = text.rfind("\n", 0, start) + 1
    alone_left = not text[line_start:start].strip(_SPACE) or _is_marker(text[line_start:start])
    if right >= n or text[right] == "\n":
        if alone_left:
            return _remove_line(text, line_start, right)
        left = start
        while left > 0 and text[left - 1] in _SPACE:
            left -= 1
        return Edit(left, end)
    return Edit(start, right)


def _remove_line(text: str, start: int, end: int) -> Edit:
    """Delete the line [start, end) so no blank-line run or trailing blank line is left."""
    n = len(text)
    if end >= n:
        while start > 0 and text[start - 1] == "\n":
            start -= 1
        return Edit(start, n)
    end += 1
    if start >= 2 and text[start - 2 : start] == "\n\n" and end < n and text[end] == "\n":
        end += 1
    elif start == 0:
        while end < n and text[end] == "\n":
            end += 1
    return Edit(start, end)


def _is_marker(prefix: str) -> bool:
    """True if ``prefix`` is only indentation plus a bullet or label (the line's head)."""
    head = prefix.strip()
    return bool(head) and (head in "-*+•" or head[:-1].isdigit() or head.endswith(":"))


def skip_separator(text: str, pos: int) -> int:
    """Position after spaces and one ``,`` or ``:`` that follow ``pos``."""
    n = len(text)
    while pos < n and text[pos] in _SPACE:
        pos += 1
    if pos < n and text[pos] in ",:":
        pos += 1
        while pos < n and text[pos] in _SPACE:
            pos += 1
    return pos
