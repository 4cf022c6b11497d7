"""Remove hedges ("I think", "it seems that") only where the clause keeps its uncertainty.

"I think this might be the cause" becomes "This might be the cause"; "I think the cause is
X" is left alone, because dropping the hedge would turn a guess into a claim.
"""

from __future__ import annotations

import re

from workers.prompts.doc import SENTINEL_CLASS, Doc, is_sentinel
from workers.prompts.edits import Edit, apply_edits, remove_inline, remove_leading
from workers.prompts.passes.base import PassContext
from workers.prompts.segments import is_sentence_start

_CLAUSE_END = re.compile(r"[,;.!?\n]")
_WORD = re.compile(rf"{SENTINEL_CLASS}|[A-Za-z]+")


class HedgesPass:
    name = "hedges"

    def apply(self, doc: Doc, ctx: PassContext) -> Doc:
        if not doc.mentions(ctx.book.anchors["hedges"]):
            return doc
        text = doc.text
        matches = list(ctx.book.hedges.finditer(text))
        if not matches:
            return doc
        edits: list[Edit] = []
        for match in matches:
            start, end = match.span()
            stop = _CLAUSE_END.search(text, end)
            clause = text[end : stop.start() if stop else len(text)]
            if not _uncertain(doc, clause, ctx.book.uncertainty):
                continue
            edit = (
                remove_leading(text, start, end, capitalize=match.group()[0].isupper())
                if is_sentence_start(doc, start)
                else remove_inline(text, start, end)
            )
            if edit is not None:
                edits.append(edit)
        return doc.with_text(apply_edits(text, edits)) if edits else doc


def _uncertain(doc: Doc, clause: str, words: frozenset[str]) -> bool:
    for token in _WORD.findall(clause):
        word = doc.span(token).text if is_sentinel(token) else token
        if word.lower() in words:
            return True
    return False
