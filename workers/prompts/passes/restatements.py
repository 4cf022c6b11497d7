"""Drop a sentence that announces itself as a repetition and adds nothing new.

"Again, please remember that we do not want a full rewrite." goes when every protected span
it holds (the "not", numbers, names) and all but at most one of its content words already
appear earlier in the prompt: the writer marked it as a repeat, and a one-word paraphrase
("remain" for "keep") is all it may add.
"""

from __future__ import annotations

import re

from workers.prompts.doc import SENTINEL_RE, Doc
from workers.prompts.edits import Edit, apply_edits, remove_sentence
from workers.prompts.examples import example_lines
from workers.prompts.passes.base import PassContext
from workers.prompts.phrasebook import Phrasebook
from workers.prompts.segments import LineKind, doc_sentences, sentence_heads

#: A restatement may bring this many content words the prompt has not used yet.
MAX_NEW_WORDS = 1
#: Fewer content words than this is too little to judge a sentence a repeat.
MIN_CONTENT_WORDS = 3
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")


class RestatementsPass:
    name = "restatements"

    def apply(self, doc: Doc, ctx: PassContext) -> Doc:
        book = ctx.book
        if not doc.mentions(book.anchors["repetition_markers"]):
            return doc
        text = doc.text
        heads = book.heads["repetition_markers"]
        first_words = sentence_heads(doc)
        marked = [
            s
            for s in doc_sentences(doc)
            if s.kind is not LineKind.LABEL and first_words[s.start] in heads
        ]
        if not marked:
            return doc
        in_examples = example_lines(doc)
        edits: list[Edit] = []
        for sentence in marked:
            marker = book.repetitions.match(text, sentence.start)
            if marker is None or text.rfind("\n", 0, sentence.start) + 1 in in_examples:
                continue
            rest = text[marker.end() : sentence.end]
            if _repeats(doc, text[: sentence.start], rest, book):
                edits.append(remove_sentence(text, sentence.start, sentence.end))
        return doc.with_text(apply_edits(text, edits)) if edits else doc


def _repeats(doc: Doc, earlier: str, rest: str, book: Phrasebook) -> bool:
    spans = {_form(doc, ch) for ch in SENTINEL_RE.findall(rest)}
    if not spans <= {_form(doc, ch) for ch in SENTINEL_RE.findall(earlier)}:
        return False
    words = _content(rest, book)
    if len(words) < MIN_CONTENT_WORDS:
        return False
    return len(words - _content(earlier, book)) <= MAX_NEW_WORDS


def _form(doc: Doc, char: str) -> str:
    return doc.span(char).canonical.lower()


def _content(text: str, book: Phrasebook) -> set[str]:
    return set(_WORD.findall(text.lower())) - book.stopwords - book.vocabulary
