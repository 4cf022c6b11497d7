"""Drop words that only point at what follows: "Here are the logs from the crash:" → "The
logs from the crash:", "The YAML file looks like this:" → "The YAML file:", and a sentence
such as "Here is some context about our setup." before the context itself.

The colon already says "what follows is it". A leading introducer ("here is") goes only
before a colon with at least one word between; a trailing presenter ("looks like this")
only right before a colon, after at least one word; a sentence that only announces
("here is" plus a few words naming context or background, no protected span) goes whole.
So "Here is why it fails." and "Here it is:" stay.
"""

from __future__ import annotations

import re

from workers.prompts.doc import SENTINEL_RE, Doc
from workers.prompts.edits import Edit, apply_edits, remove_leading, remove_sentence
from workers.prompts.passes.base import PassContext
from workers.prompts.phrasebook import Phrasebook
from workers.prompts.segments import LineKind, Sentence, doc_sentences, sentence_heads

#: An announcing sentence names its subject in at most this many words ("some more
#: context about our setup"); a longer one says something.
MAX_ANNOUNCEMENT_WORDS = 6
_WORD = re.compile(r"\w")
_WORDS = re.compile(r"[A-Za-z']+")


class IntroducersPass:
    name = "introducers"

    def apply(self, doc: Doc, ctx: PassContext) -> Doc:
        if not doc.mentions(ctx.book.anchors["introductions"]):
            return doc
        text = doc.text
        edits: list[Edit] = []
        heads = sentence_heads(doc)
        for sentence in doc_sentences(doc):
            if sentence.kind is not LineKind.LABEL:
                edit = _edit(text, sentence, heads[sentence.start], ctx.book)
                if edit is not None:
                    edits.append(edit)
        return doc.with_text(apply_edits(text, edits)) if edits else doc


def _edit(text: str, sentence: Sentence, head: str, book: Phrasebook) -> Edit | None:
    start, end = sentence.start, sentence.end
    introduced = head in book.heads["introducers"]
    colon = text.find(":", start, end)
    if colon < 0 and not introduced:
        return None
    match = book.introducers.match(text, start) if introduced else None
    if match is not None and colon < 0:
        return _announcement(text, sentence, match.end(), book)
    if colon < 0:
        return None
    if match is not None and _WORD.search(text, match.end(), colon):
        return remove_leading(text, start, match.end(), capitalize=text[start].isupper())
    for found in book.presenters.finditer(text, start, colon):
        if found.end() == colon and _WORD.search(text, start, found.start()):
            left = found.start()
            while left > start and text[left - 1] in " \t":
                left -= 1
            return Edit(left, found.end())
    return None


def _announcement(text: str, sentence: Sentence, after: int, book: Phrasebook) -> Edit | None:
    body = text[after : sentence.end]
    words = [w.lower() for w in _WORDS.findall(body)]
    if (
        body.rstrip().endswith(".")
        and len(words) <= MAX_ANNOUNCEMENT_WORDS
        and set(words) & book.announced
        and not SENTINEL_RE.search(body)
    ):
        return remove_sentence(text, sentence.start, sentence.end)
    return None
