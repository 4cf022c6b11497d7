"""Shorten verbose phrases ("in order to" → "to", "due to the fact that" → "because")."""

from __future__ import annotations

import re

from workers.prompts.doc import Doc, sentinel
from workers.prompts.edits import Edit, apply_edits, remove_inline, remove_leading
from workers.prompts.passes.base import PassContext
from workers.prompts.segments import is_sentence_start
from workers.prompts.spans import Span, SpanKind

_NEXT_WORD = re.compile(r"[ \t]*([A-Za-z']*)")


def _next_word(text: str, pos: int) -> str:
    found = _NEXT_WORD.match(text, pos)
    return found.group(1) if found else ""


class VerbosePass:
    name = "verbose"

    def apply(self, doc: Doc, ctx: PassContext) -> Doc:
        text = doc.text
        edits: list[Edit] = []
        spans = list(doc.spans)
        for match in ctx.book.verbose.finditer(text):
            start, end = match.span()
            short = ctx.book.replacement(match.group(), _next_word(text, end))
            capital = match.group()[0].isupper()
            if short:
                short = short[0].upper() + short[1:] if capital else short
                edits.append(Edit(start, end, _protect(short, spans, ctx)))
                continue
            edit = (
                remove_leading(text, start, end, capitalize=capital)
                if is_sentence_start(doc, start)
                else remove_inline(text, start, end)
            )
            if edit is not None:
                edits.append(edit)
        if not edits:
            return doc
        if len(spans) == len(doc.spans):  # no protected word came in: keep the span table
            return doc.with_text(apply_edits(text, edits))
        return doc.with_spans(apply_edits(text, edits), tuple(spans))


def _protect(short: str, spans: list[Span], ctx: PassContext) -> str:
    """Mask the protected words a short form brings in ("always", "most of"), as detection
    would, so the result reads the same to the next pass and to a fresh detection."""
    words = short.split(" ")
    for n, word in enumerate(words):
        if word.lower() in ctx.book.protected_words:
            spans.append(Span(SpanKind.NEGATION, word))
            words[n] = sentinel(len(spans) - 1)
    return " ".join(words)
