"""Renumbering ordered lists after items were dropped, so ``1. 2. 4.`` reads ``1. 2. 3.``."""

from __future__ import annotations

import re

from workers.prompts.edits import Edit
from workers.prompts.segments import Line, LineKind

_NUMBERED = re.compile(r"([ \t]*)(\d{1,3})([.)])[ \t]")


def renumber_lists(text: str, lines: list[Line], removed: set[int]) -> list[Edit]:
    """Edits renumbering each numbered list that lost an item (line starts in ``removed``).

    Only lists numbered in sequence are touched; a list is consecutive numbered bullet lines
    with the same indentation and delimiter.
    """
    if not removed:
        return []
    edits: list[Edit] = []
    for run in _runs(text, lines):
        if not any(line.start in removed for line, _ in run):
            continue
        numbers = [int(m.group(2)) for _, m in run]
        if numbers != list(range(numbers[0], numbers[0] + len(numbers))):
            continue
        want = numbers[0]
        for line, match in run:
            if line.start in removed:
                continue
            if int(match.group(2)) != want:
                at = match.start(2)
                edits.append(Edit(at, at + len(match.group(2)), str(want)))
            want += 1
    return edits


def _runs(text: str, lines: list[Line]) -> list[list[tuple[Line, re.Match[str]]]]:
    runs: list[list[tuple[Line, re.Match[str]]]] = []
    current: list[tuple[Line, re.Match[str]]] = []
    for line in lines:
        numbered = line.kind is LineKind.BULLET
        match = _NUMBERED.match(text, line.start, line.end) if numbered else None
        if match and current:
            prev = current[-1][1]
            if (prev.group(1), prev.group(3)) == (match.group(1), match.group(3)):
                current.append((line, match))
                continue
        if len(current) > 1:
            runs.append(current)
        current = [(line, match)] if match else []
    if len(current) > 1:
        runs.append(current)
    return runs
