"""Comparison keys for deduplication: the words that carry meaning, in order.

Two units are duplicates when their keys are equal: same words in the same order once case,
punctuation, articles and filler words are ignored, with protected spans compared by their
canonical text. Near-duplicates that differ in any other word are kept, because a single
word ("and" vs "or", "to" vs "from") can change an instruction.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from itertools import filterfalse

from workers.prompts.doc import SENTINEL_CLASS, SENTINEL_RE, Doc, sentinel
from workers.prompts.phrasebook import Phrasebook
from workers.prompts.segments import doc_sentences, sentence_start_list
from workers.prompts.spans import SpanKind

_TOKEN = re.compile(rf"{SENTINEL_CLASS}|[^\W_]+(?:'[^\W_]+)*")
#: ``_TOKEN`` for lower-case text that is ASCII outside sentinels (see ``Doc.ascii_words``).
_ASCII_TOKEN = re.compile(
    r"[a-z0-9\U000f0000-\U0010fffd](?:(?<=[a-z0-9])[a-z0-9]*(?:'[a-z0-9]+)*)?"
)


def key(
    doc: Doc, text: str, book: Phrasebook, cache: dict[str, tuple[str, ...]] | None = None
) -> tuple[str, ...]:
    """The dedupe key of masked ``text`` (looked up in / stored to ``cache`` if given)."""
    if cache is None:
        return _key(doc, text, book)
    found = cache.get(text)
    if found is None:
        found = cache[text] = _key(doc, text, book)
    return found


def range_key(
    doc: Doc, start: int, end: int, book: Phrasebook, cache: dict[str, tuple[str, ...]]
) -> tuple[str, ...]:
    """``key`` of ``doc.text[start:end]`` (whole lines), put together from the keys of its
    sentences and of the text between them.

    No word runs across a sentence's edge (sentences start and end next to white space or
    a line's edge), so the keys join exactly; sentence keys then come from, or go to, the
    cache that sentence dedupe uses.
    """
    text = doc.text
    found = doc_sentences(doc)
    at = bisect_left(sentence_start_list(doc), start)
    words: list[str] = []
    cursor = start
    while at < len(found) and found[at].end <= end:
        sentence = found[at]
        if sentence.start > cursor:
            words.extend(key(doc, text[cursor : sentence.start], book, cache))
        words.extend(key(doc, text[sentence.start : sentence.end], book, cache))
        cursor = sentence.end
        at += 1
    if cursor < end:
        words.extend(key(doc, text[cursor:end], book, cache))
    return tuple(words)


def _key(doc: Doc, text: str, book: Phrasebook) -> tuple[str, ...]:
    tokens = (_ASCII_TOKEN if doc.ascii_words() else _TOKEN).findall(text.lower())
    if SENTINEL_RE.search(text) is None:  # no protected span: plain words only
        return tuple(filterfalse(book.ignorable.__contains__, tokens))
    forms = _forms(doc)
    ignorable = book.ignorable
    return tuple([forms.get(t, t) for t in tokens if t in forms or t not in ignorable])


def _forms(doc: Doc) -> dict[str, str]:
    """Sentinel → how keys spell its span ("\\x00" + canonical text; negations lower-case),
    computed once per span table."""
    found = doc.shared.get("key_forms")
    if found is None or found[0] is not doc.spans:
        forms = {}
        for index, span in enumerate(doc.spans):
            form = span.canonical.lower() if span.kind is SpanKind.NEGATION else span.canonical
            forms[sentinel(index)] = "\x00" + form
        found = doc.shared["key_forms"] = (doc.spans, forms)
    return found[1]


def word_set(doc: Doc, text: str, book: Phrasebook) -> frozenset[str]:
    return frozenset(key(doc, text, book))


def jaccard_distance(a: frozenset[str], b: frozenset[str]) -> float:
    """1 - |a ∩ b| / |a ∪ b|; 0 for two empty sets."""
    union = len(a | b)
    return 0.0 if union == 0 else 1.0 - len(a & b) / union
