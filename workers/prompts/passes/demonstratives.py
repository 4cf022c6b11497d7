"""Shorten "the following" to "this" or "these": "Review the following answers and ..." →
"Review these answers and ...", "The policy says the following:" → "The policy says this:".

"these" when the noun phrase after it looks plural (a word ending in "s", a number word,
or "are"/"were" right after), else "this". Time words keep their other sense ("the
following week" is the next week) and are left alone.
"""

from __future__ import annotations

import re

from workers.prompts.doc import Doc
from workers.prompts.edits import Edit, apply_edits
from workers.prompts.passes.base import PassContext
from workers.prompts.phrasebook import Phrasebook
from workers.prompts.phrases import normalize_phrase

_NEXT_WORDS = re.compile(r"[ \t]+([A-Za-z][\w'-]*)")
#: Words looked at after "the following" to tell singular from plural.
_LOOKAHEAD_WORDS = 4
_SINGULAR_ENDINGS = ("ss", "us", "is")


class DemonstrativesPass:
    name = "demonstratives"

    def apply(self, doc: Doc, ctx: PassContext) -> Doc:
        if not doc.mentions(ctx.book.anchors["pointers"]):
            return doc
        text = doc.text
        edits: list[Edit] = []
        for match in ctx.book.pointers.finditer(text):
            words = _next_words(text, match.end(), ctx.book)
            if any(w in ctx.book.time_words for w in words[:1]):
                continue
            singular, plural = ctx.book.pointer_forms[normalize_phrase(match.group())]
            short = plural if _plural(words, ctx.book) else singular
            if match.group()[0].isupper():
                short = short.capitalize()
            edits.append(Edit(match.start(), match.end(), short))
        return doc.with_text(apply_edits(text, edits)) if edits else doc


def _next_words(text: str, pos: int, book: Phrasebook) -> list[str]:
    """Lower-case words of the noun phrase after ``pos``: up to a function word or mark."""
    words: list[str] = []
    while len(words) < _LOOKAHEAD_WORDS:
        found = _NEXT_WORDS.match(text, pos)
        if found is None:
            break
        word = found.group(1).lower()
        if word in book.stopwords and word not in ("are", "were"):
            break
        words.append(word)
        if word in ("are", "were"):
            break
        pos = found.end()
    return words


def _plural(words: list[str], book: Phrasebook) -> bool:
    for word in words:
        if word in ("are", "were") or word in book.number_words:
            return True
        if word.endswith("s") and not word.endswith(_SINGULAR_ENDINGS):
            return True
    return False
