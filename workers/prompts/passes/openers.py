"""Remove boilerplate that opens a sentence ("Please note that", "I want you to", "Hello,").

Chained openers go together ("So basically, please make sure that you check" → "Check"), and
the next word is capitalized when the opener was. After a connective or a leading clause
that stays an opener is removed too: "Then, please make sure you run it" → "Then, run it",
"When you answer, please make sure that you cite sources" → "When you answer, cite sources".
An opener that hands the sentence to a verb ("make sure you", "help me", "I want you to")
is removed only if a verb plausibly follows: "It is important that you are thorough"
stays, and "Could you help me with X" keeps "Help me".
"""

from __future__ import annotations

import re

from workers.prompts.doc import Doc, is_sentinel
from workers.prompts.edits import Edit, apply_edits, remove_leading, skip_separator
from workers.prompts.passes.base import PassContext
from workers.prompts.phrasebook import Phrasebook
from workers.prompts.phrases import head_word, normalize_phrase
from workers.prompts.segments import doc_sentences, sentence_heads
from workers.prompts.spans import SpanKind

_NEXT = re.compile(r"[A-Za-z']+")


class OpenersPass:
    name = "openers"

    def apply(self, doc: Doc, ctx: PassContext) -> Doc:
        text = doc.text
        edits: list[Edit] = []
        found = doc_sentences(doc)
        ends = {s.start: s.end for s in found}
        starting = ctx.book.heads["opener_starts"]
        heads = sentence_heads(doc)
        for sentence in found:
            start = sentence.start
            if heads[start] not in starting and text.find(", ", start, sentence.end) < 0:
                continue  # no opener here and no lead an opener could follow
            capital = text[start].isupper()
            chain = _fitting_chain(doc, start, ctx.book)
            if not chain:
                start = _after_lead(text, start, ends.get(start, start), ctx.book)
                if start < 0:
                    continue
                chain, capital = _fitting_chain(doc, start, ctx.book, inner=True), False
            if chain:
                edit = remove_leading(text, start, chain[-1][0], capitalize=capital)
                if edit is not None:
                    edits.append(edit)
                    if any(phrase in ctx.book.question_openers for _, phrase in chain):
                        edits.extend(_full_stop(text, start, ends))
        return doc.with_text(apply_edits(text, edits)) if edits else doc


def _after_lead(text: str, start: int, end: int, book: Phrasebook) -> int:
    """Where a request may begin after a leading connective or clause, else -1.

    "Then, please run it" and "When you answer, please make sure that you cite sources"
    keep their lead ("Then,", "When you answer,") and lose the opener after it, and so does
    a clause joined by "so": "..., so it is important that you check" → "..., so check".
    """
    heads = book.heads["discourse_markers"]
    marker = book.discourse.match(text, start) if head_word(text, start) in heads else None
    if marker is not None:
        return skip_separator(text, marker.end())
    comma = text.find(", ", start, end)
    if comma < 0:
        return -1
    after = comma + 2
    if head_word(text, after) in book.lead_conjunctions:  # "..., so please check it"
        return skip_separator(text, after + len(head_word(text, after)))
    return after


def _full_stop(text: str, start: int, ends: dict[int, int]) -> list[Edit]:
    """Turn the "?" ending the request that started at ``start`` into a period."""
    end = ends.get(start)
    if end is None or text[end - 1] != "?" or text[end - 2 : end] == "??":
        return []
    return [Edit(end - 1, end, ".")]


def _fitting_chain(
    doc: Doc, start: int, book: Phrasebook, inner: bool = False
) -> list[tuple[int, str]]:
    chain = _chain(doc.text, start, book, inner)
    while chain and not _fits(doc, chain[-1], book):
        chain.pop()
    return chain


def _chain(text: str, start: int, book: Phrasebook, inner: bool) -> list[tuple[int, str]]:
    """(end, phrase) of each opener in the run of openers at ``start``.

    ``inner``: the run follows a lead that stays ("When you answer, ..."); only requests
    ("please make sure that you") count there, not connectives ("so,") or fillers.
    """
    chain: list[tuple[int, str]] = []
    pos = start
    while True:
        head = head_word(text, pos)
        match = book.openers.match(text, pos) if head in book.heads["openers"] else None
        if match is None and not inner and head in book.heads["fillers"]:
            match = book.fillers.match(text, pos)
        if match is None or (inner and match.group().endswith((",", ":"))):
            return chain
        chain.append((match.end(), normalize_phrase(match.group())))
        pos = skip_separator(text, match.end())


def _fits(doc: Doc, link: tuple[int, str], book: Phrasebook) -> bool:
    """Whether the sentence still reads as an instruction once the opener is gone."""
    end, phrase = link
    if phrase.rsplit(" ", 1)[-1] not in book.opener_verb_words:
        return True
    pos = skip_separator(doc.text, end)
    if pos < len(doc.text) and is_sentinel(doc.text[pos]):
        span = doc.span(doc.text[pos])
        return span.kind is not SpanKind.NEGATION or span.text.lower() not in _MODALS
    word = _NEXT.match(doc.text, pos)
    return word is not None and word.group().lower() not in book.imperative_blockers


#: Modals that cannot start an imperative ("that you should" must keep its subject).
_MODALS = frozenset({"should", "must", "may", "might", "shall", "ought"})
