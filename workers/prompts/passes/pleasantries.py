"""Drop sentences that are only greetings or thanks ("Thank you so much in advance!"), or
boilerplate the language lists ("You are a helpful assistant.").

A sentence goes only if every word is on the language's pleasantry list, at least one is an
anchor ("thanks", "hello", "appreciate") and it holds no protected span, so "Thanks for
checking the Terraform plan" stays.
"""

from __future__ import annotations

import re
from bisect import bisect_right

from workers.prompts.doc import SENTINEL_RE, Doc
from workers.prompts.edits import Edit, apply_edits, remove_sentence
from workers.prompts.passes.base import PassContext
from workers.prompts.segments import LineKind, Sentence, doc_sentences, sentence_start_list

_WORD = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)?")


class PleasantriesPass:
    name = "pleasantries"

    def apply(self, doc: Doc, ctx: PassContext) -> Doc:
        book = ctx.book
        hits = [match.start() for match in book.pleasantry_probe.finditer(doc.text)]
        if not hits:
            return doc
        edits: list[Edit] = []
        for sentence in _holding(doc, hits):
            if sentence.kind is LineKind.LABEL:
                continue
            body = doc.text[sentence.start : sentence.end]
            if SENTINEL_RE.search(body):
                continue
            words = [w.lower().replace("’", "'") for w in _WORD.findall(body)]
            if " ".join(words) in book.boilerplate or (
                words
                and any(w in book.pleasantry_anchors for w in words)
                and all(w in book.pleasantry_words for w in words)
            ):
                edits.append(remove_sentence(doc.text, sentence.start, sentence.end))
        return doc.with_text(apply_edits(doc.text, edits)) if edits else doc


def _holding(doc: Doc, hits: list[int]) -> list[Sentence]:
    """Sentences holding a probe hit (a word every pleasantry needs), in order: found from
    the hits, which are few, rather than by testing every sentence."""
    found = doc_sentences(doc)
    starts = sentence_start_list(doc)
    out: list[Sentence] = []
    last = -1
    for hit in hits:
        at = bisect_right(starts, hit) - 1
        if at > last and found[at].end > hit:
            out.append(found[at])
            last = at
    return out
