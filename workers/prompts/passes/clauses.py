"""Shorten subordinate clauses without changing what they say.

Relative clauses lose their pronoun and "be": "a model that was trained on 2023 data" → "a
model trained on 2023 data", "the freeze, which is from May 1 to May 9" → "the freeze, from
May 1 to May 9". A "that" after a verb of saying or thinking goes before a pronoun subject:
"assume that we have 150 hosts" → "assume we have 150 hosts".

"which" and "who" count only after a comma (elsewhere they may ask a question: "tell the
user which is deprecated"); "that" only after a word that can end a noun phrase (not a
function word or a verb that takes a clause: "ensure that is done"). A past participle
("-ed" or a listed irregular one) or a listed preposition must follow the form of "be".
A "that" before a subject goes only after a listed verb and before a personal pronoun, so
"make sure that works" (where "that" is the subject) stays.
"""

from __future__ import annotations

import re

from workers.prompts.doc import Doc
from workers.prompts.edits import Edit, apply_edits
from workers.prompts.passes.base import PassContext
from workers.prompts.phrasebook import Phrasebook

#: Both patterns start with a literal so the engine can skip ahead; what precedes the
#: pronoun is checked in Python.
_RELATIVE = re.compile(
    r"(that|which|who)[ \t]+"
    r"(?:is|are|was|were|has[ \t]+been|have[ \t]+been|had[ \t]+been)[ \t]+(?=([a-z]+)\b)"
)
_BEFORE = re.compile(r"(\w+)\W*$")
_VERB_BEFORE = re.compile(r"(?<![\w'’-])[a-z]+$")
_WORD_CHAR = re.compile(r"\w")
_COMPLEMENT = re.compile(r"that(?=[ \t]+(?:I|we|you|they|he|she|it|there)(?![\w'’-]))")
_SPACE = " \t"
#: "-ed" words that are not past participles.
_NOT_PARTICIPLES = frozenset({"need", "feed", "seed", "speed", "bleed", "breed", "embed", "red"})


class ClausesPass:
    name = "clauses"

    def apply(self, doc: Doc, ctx: PassContext) -> Doc:
        text = doc.text
        edits: list[Edit] = []
        for match in _RELATIVE.finditer(text):
            gap = _gap_before(text, match.start())
            if gap < match.start() and _shortens(text, gap, match, ctx.book):
                edits.append(Edit(gap + 1, match.end()))
        for match in _COMPLEMENT.finditer(text):
            gap = _gap_before(text, match.start())
            verb = _VERB_BEFORE.search(text, max(0, gap - 40), gap)
            if gap < match.start() and verb and verb.group() in ctx.book.clause_verbs:
                edits.append(Edit(gap, match.end()))
        return doc.with_text(apply_edits(text, edits)) if edits else doc


def _gap_before(text: str, pos: int) -> int:
    """Start of the run of spaces and tabs that ends at ``pos``."""
    while pos > 0 and text[pos - 1] in _SPACE:
        pos -= 1
    return pos


def _shortens(text: str, gap: int, match: re.Match[str], book: Phrasebook) -> bool:
    """Whether the relative clause at ``match`` (after spaces from ``gap``) may shorten."""
    word = match.group(2)
    if gap == 0 or not (_is_participle(word, book) or word in book.places):
        return False
    if text[gap - 1] == ",":
        return True
    if match.group(1) != "that" or not _WORD_CHAR.match(text, gap - 1):
        return False
    before = _BEFORE.search(text, max(0, gap - 40), gap)
    noun = before.group(1).lower() if before else ""
    return bool(noun) and noun not in book.stopwords and noun not in book.clause_verbs


def _is_participle(word: str, book: Phrasebook) -> bool:
    if word in book.participles:
        return True
    return len(word) > 4 and word.endswith("ed") and word not in _NOT_PARTICIPLES
