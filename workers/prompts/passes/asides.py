"""Drop asides about the writer that give the model nothing to do: "I've been banging my
head against this for a while now and I don't know what else to try." → "I don't know
what else to try.", "I'm new to AWS so be patient with me." → "I'm new to AWS."

A sentence is split into clauses at "and", "so", "but" and ";"; a clause goes only if all
its words form an aside the language lists and it holds no protected span. A sentence
made only of asides goes whole. A listed tail right before a full stop or colon goes too
("Review this plan for me." → "Review this plan.", "Mention it as well." → "Mention it."),
"for me" only in a request (a sentence that does not open with a function word: "This is
hard for me." stays).
"""

from __future__ import annotations

import re
from bisect import bisect_left

from workers.prompts.doc import SENTINEL_RE, Doc, is_sentinel
from workers.prompts.edits import Edit, apply_edits, remove_sentence
from workers.prompts.passes.base import PassContext
from workers.prompts.phrasebook import Phrasebook
from workers.prompts.phrases import head_word, normalize_phrase
from workers.prompts.segments import LineKind, doc_sentences

_JOINT = re.compile(r",?[ \t]+(?:and|so|but)[ \t]+|;[ \t]+")
_WORD = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)?")
_END = re.compile(r"[.!?]*$")
_STOPS = ".:!?"


class AsidesPass:
    name = "asides"

    def apply(self, doc: Doc, ctx: PassContext) -> Doc:
        book = ctx.book
        text = doc.text
        lower = doc.lowered()
        hits = (
            [m.start() for m in book.aside_probe.finditer(text)]
            if doc.mentions(book.anchors["asides"])
            else []
        )
        tails = _tails(doc, book) if book.tail_quick.search(lower) else {}
        if not hits and not tails:
            return doc
        ends = sorted(tails)
        edits: list[Edit] = []
        for sentence in doc_sentences(doc):
            start, end = sentence.start, sentence.end
            if sentence.kind is LineKind.LABEL or not (
                _within(hits, start, end) or _within(ends, start + 1, end + 1)
            ):
                continue
            body = text[start:end]
            rebuilt = _without_clauses(body, book.asides) if _within(hits, start, end) else body
            if rebuilt is None:
                edits.append(remove_sentence(text, sentence.start, sentence.end))
                continue
            if rebuilt == body:  # tails are found in the original text: one change at a time
                rebuilt = _without_tails(body, tails, sentence.start, book)
            if rebuilt != body:
                edits.append(Edit(sentence.start, sentence.end, rebuilt))
        return doc.with_text(apply_edits(text, edits)) if edits else doc


def _within(offsets: list[int], start: int, end: int) -> bool:
    """True if a sorted offset lies in [start, end)."""
    at = bisect_left(offsets, start)
    return at < len(offsets) and offsets[at] < end


def _tails(doc: Doc, book: Phrasebook) -> dict[int, tuple[int, str]]:
    """Tail phrases right before a full stop or colon, by end offset: (start, phrase)."""
    text = doc.text
    found = {}
    for match in book.tails.finditer(text):
        after = match.end()
        while after < len(text) and text[after] in " \t":
            after += 1
        if after < len(text) and text[after] in _STOPS:
            found[match.end()] = (match.start(), normalize_phrase(match.group()))
    return found


def _without_tails(
    body: str, tails: dict[int, tuple[int, str]], offset: int, book: Phrasebook
) -> str:
    """``body`` (which starts at ``offset``) without the tails that end inside it."""
    ends = [end - offset for end in tails if offset < end <= offset + len(body)]
    if not ends:
        return body
    request = head_word(body, 0) not in book.stopwords
    for end in sorted(ends, reverse=True):
        start, phrase = tails[end + offset]
        if phrase in book.request_tails and not request:
            continue
        left = start - offset
        while left > 0 and body[left - 1] in " \t":
            left -= 1
        if left > 0 and (body[left - 1].isalnum() or is_sentinel(body[left - 1])):
            body = body[:left] + body[end:]
    return body


def _without_clauses(body: str, asides: frozenset[str]) -> str | None:
    """``body`` without its aside clauses; None if nothing else is left."""
    stop = _END.search(body).start()  # type: ignore[union-attr]
    clauses: list[tuple[str, str]] = []  # (joint before the clause, clause)
    cursor = 0
    joint = ""
    for match in _JOINT.finditer(body, 0, stop):
        clauses.append((joint, body[cursor : match.start()]))
        joint, cursor = match.group(), match.end()
    clauses.append((joint, body[cursor:stop]))
    kept = [(j, c) for j, c in clauses if not _is_aside(c, asides)]
    if len(kept) == len(clauses):
        return body
    if not kept:
        return None
    first = kept[0][1]
    if kept[0] is not clauses[0] and clauses[0][1][:1].isupper() and first[:1].islower():
        first = first[0].upper() + first[1:]
    return first + "".join(j + c for j, c in kept[1:]) + body[stop:]


def _is_aside(clause: str, asides: frozenset[str]) -> bool:
    if SENTINEL_RE.search(clause):
        return False
    words = " ".join(w.lower().replace("’", "'") for w in _WORD.findall(clause))
    return words in asides
