"""Drop repeated paragraphs that sentence dedupe cannot see: records, label lines, blocks.

A paragraph that ends with ":" is compared together with the code, JSON, table or log block
that follows it ("Here is the log:" + the log), so a context pasted twice goes as one unit.
A block alone is never dropped: the same snippet may belong to two different instructions.
"""

from __future__ import annotations

from workers.prompts.doc import Doc
from workers.prompts.edits import Edit, apply_edits
from workers.prompts.examples import Paragraph, example_lines, paragraphs
from workers.prompts.passes.base import PassContext
from workers.prompts.segments import Line, LineKind, doc_lines
from workers.prompts.similarity import range_key

#: Paragraphs shorter than this many key words are left to sentence dedupe (unless they
#: carry a block: "Here is the log:" plus the log is worth dropping whole).
MIN_KEY_WORDS = 6


class DedupeParagraphsPass:
    name = "dedupe_paragraphs"

    def apply(self, doc: Doc, ctx: PassContext) -> Doc:
        lines = doc_lines(doc)
        in_examples = example_lines(doc)
        seen: set[tuple[str, ...]] = set()
        edits: list[Edit] = []
        for first, last in _units(doc, lines, paragraphs(lines)):
            if lines[first].start in in_examples or _only_blocks(lines, first, last):
                continue
            words = range_key(doc, lines[first].start, lines[last].end, ctx.book, ctx.keys)
            has_block = any(lines[i].kind is LineKind.BLOCK for i in range(first, last + 1))
            if len(words) < MIN_KEY_WORDS and not has_block:
                continue
            if words in seen:
                edits.append(_remove(doc.text, lines, first, last))
            else:
                seen.add(words)
        return doc.with_text(apply_edits(doc.text, edits)) if edits else doc


def _units(doc: Doc, lines: list[Line], paras: list[Paragraph]) -> list[tuple[int, int]]:
    """Paragraphs as (first line, last line), an introducing paragraph merged with its block."""
    units: list[tuple[int, int]] = []
    k = 0
    while k < len(paras):
        para = paras[k]
        intro = doc.text[lines[para.first].start : lines[para.last].end].rstrip().endswith(":")
        if intro and k + 1 < len(paras) and _only_blocks(lines, *_pair(paras[k + 1])):
            units.append((para.first, paras[k + 1].last))
            k += 2
            continue
        units.append((para.first, para.last))
        k += 1
    return units


def _pair(para: Paragraph) -> tuple[int, int]:
    return para.first, para.last


def _only_blocks(lines: list[Line], first: int, last: int) -> bool:
    return all(lines[i].kind in (LineKind.BLOCK, LineKind.BLANK) for i in range(first, last + 1))


def _remove(text: str, lines: list[Line], first: int, last: int) -> Edit:
    start, end = lines[first].start, lines[last].end
    while end < len(text) and text[end] == "\n":
        end += 1
    if end >= len(text):
        while start > 0 and text[start - 1] == "\n":
            start -= 1
    return Edit(start, end)
