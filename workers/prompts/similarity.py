"""Comparison keys for deduplication: the words that carry meaning, in order.

Two units are duplicates when their keys are equal: same words in the same order once case,
punctuation, articles and filler words are ignored, with protected spans compared by their
canonical text. Near-duplicates that differ in any other word are kept, because a single
word ("and" vs "or", "to" vs "from") can change an instruction.
"""

from __future__ import annotations

import re

from workers.prompts.doc import SENTINEL_CLASS, Doc
from workers.prompts.phrasebook import Phrasebook
from workers.prompts.spans import SpanKind

_TOKEN = re.compile(rf"{SENTINEL_CLASS}|[^\W_]+(?:'[^\W_]+)*")
_FIRST_SENTINEL = "\U000f0000"


def key(
    doc: Doc, text: str, book: Phrasebook, cache: dict[str, tuple[str, ...]] | None = None
) -> tuple[str, ...]:
    """The dedupe key of masked ``text`` (looked up in / stored to ``cache`` if given)."""
    if cache is not None:
        found = cache.get(text)
        if found is None:
            found = cache[text] = key(doc, text, book)
        return found
    words: list[str] = []
    ignorable = book.ignorable
    for token in _TOKEN.findall(text.lower()):
        if token[0] >= _FIRST_SENTINEL:
            span = doc.span(token)
            form = span.canonical.lower() if span.kind is SpanKind.NEGATION else span.canonical
            words.append("\x00" + form)
        elif token not in ignorable:
            words.append(token)
    return tuple(words)


def word_set(doc: Doc, text: str, book: Phrasebook) -> frozenset[str]:
    return frozenset(key(doc, text, book))


def jaccard_distance(a: frozenset[str], b: frozenset[str]) -> float:
    """1 - |a ∩ b| / |a ∪ b|; 0 for two empty sets."""
    union = len(a | b)
    return 0.0 if union == 0 else 1.0 - len(a & b) / union
