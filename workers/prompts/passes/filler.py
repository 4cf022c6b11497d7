"""Remove filler words, intensifiers and politeness words ("basically", "really", "please").

An intensifier right after a negation stays: "not very large" is not "not large".
"""

from __future__ import annotations

from workers.prompts.doc import Doc, is_sentinel
from workers.prompts.edits import Edit, apply_edits, remove_inline, remove_leading
from workers.prompts.passes.base import PassContext
from workers.prompts.phrases import normalize_phrase
from workers.prompts.segments import is_sentence_start
from workers.prompts.spans import SpanKind


class FillerPass:
    name = "filler"

    def apply(self, doc: Doc, ctx: PassContext) -> Doc:
        text = doc.text
        matches = list(ctx.book.fillers.finditer(text))
        if not matches:
            return doc
        edits: list[Edit] = []
        for match in matches:
            start, end = match.span()
            word = normalize_phrase(match.group())
            if word in ctx.book.intensifiers and after_negation(doc, start):
                continue
            edit = (
                remove_leading(text, start, end, capitalize=match.group()[0].isupper())
                if is_sentence_start(doc, start)
                else remove_inline(text, start, end)
            )
            if edit is not None:
                edits.append(edit)
        return doc.with_text(apply_edits(text, edits)) if edits else doc


def after_negation(doc: Doc, pos: int) -> bool:
    """True if the nearest non-space character before ``pos`` is a negation or modal."""
    text = doc.text
    while pos > 0 and text[pos - 1] in " \t":
        pos -= 1
    return (
        pos > 0
        and is_sentinel(text[pos - 1])
        and doc.span(text[pos - 1]).kind is (SpanKind.NEGATION)
    )
