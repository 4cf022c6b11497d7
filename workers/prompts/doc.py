"""A prompt with its protected spans masked out, which is all a pass ever edits.

Each protected span is replaced by one private-use character (a *sentinel*). Passes edit the
masked text with ordinary regexes and can move or drop a sentinel but never see, and so never
change, what it stands for; ``restore`` puts the spans back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from workers.errors import InvalidInput
from workers.prompts.phrasebook import Phrasebook
from workers.prompts.spans import BLOCK_KINDS, Span, detect

#: First sentinel: Supplementary Private Use Area-A, never produced by normal text.
_BASE_A = 0xF0000
_SIZE_A = 0xFFFE
#: Second range (plane 16) for prompts with more spans than plane 15 holds.
_BASE_B = 0x100000
_SIZE_B = 0xFFFE
SENTINEL_CLASS = "[\U000f0000-\U0010fffd]"
SENTINEL_RE = re.compile(SENTINEL_CLASS)
_NOT_ASCII = re.compile("[^\x00-\x7f\U000f0000-\U0010fffd]")
#: The first sentinels, precomputed: almost every prompt has fewer spans than this.
_CACHED = 4096
_FIRST = [chr(_BASE_A + i) for i in range(_CACHED)]


def sentinel(index: int) -> str:
    """The character standing for span ``index``."""
    if index < _CACHED:
        return _FIRST[index]
    if index < _SIZE_A:
        return chr(_BASE_A + index)
    if index < _SIZE_A + _SIZE_B:
        return chr(_BASE_B + index - _SIZE_A)
    raise InvalidInput("prompt has too many protected spans to optimize")


def sentinel_index(char: str) -> int:
    code = ord(char)
    return code - _BASE_A if code < _BASE_B else code - _BASE_B + _SIZE_A


def is_sentinel(char: str) -> bool:
    return len(char) == 1 and _BASE_A <= ord(char) <= 0x10FFFD


@dataclass(frozen=True)
class Doc:
    """Masked text plus the spans its sentinels stand for (span ``i`` ↔ ``sentinel(i)``)."""

    text: str
    spans: tuple[Span, ...]
    #: Analyses of this exact text (lines, sentences, examples), filled lazily by
    #: ``segments``; a new text or span table starts with an empty memo.
    memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    #: Caches keyed by pieces of masked text (paragraph segmentation, dedupe keys), shared
    #: by every doc derived from one ``mask`` call: sentinels keep their meaning there.
    shared: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def span(self, char: str) -> Span:
        return self.spans[sentinel_index(char)]

    def is_block(self, char: str) -> bool:
        return is_sentinel(char) and self.span(char).kind in BLOCK_KINDS

    def ascii_words(self) -> bool:
        """True if every character outside sentinels is ASCII: word regexes may then use
        ASCII classes, which are faster than Unicode ones and match the same here."""
        found = self.memo.get("ascii")
        if found is None:
            found = self.memo["ascii"] = _NOT_ASCII.search(self.text) is None
        return found

    def mentions(self, anchors: frozenset[str]) -> bool:
        """True if any of ``anchors`` (lower-case) occurs in the text, in any case.

        A cheap test before a pass runs a phrase regex: a phrase can only match where its
        anchor word occurs (see ``Phrasebook.anchors``); meant for short anchor lists.
        """
        lower = self.lowered()
        return any(anchor in lower for anchor in anchors)

    def lowered(self) -> str:
        """The text in lower case, computed once per text (only for cheap tests: lower-casing
        may change lengths, so offsets into it are not offsets into the text)."""
        lower = self.memo.get("lower")
        if lower is None:
            lower = self.memo["lower"] = self.text.lower()
        return lower

    def restore(self, text: str | None = None) -> str:
        """The real text of ``text`` (default: this doc's masked text)."""
        masked = self.text if text is None else text
        texts = self.memo.get("texts")
        if texts is None:
            texts = self.memo["texts"] = {sentinel(i): s.text for i, s in enumerate(self.spans)}
        return SENTINEL_RE.sub(lambda m: texts[m.group()], masked)

    def canonical(self, text: str) -> str:
        """``text`` with every sentinel replaced by its span's canonical form (for keys)."""
        return SENTINEL_RE.sub(lambda m: self.span(m.group()).canonical, text)

    def with_text(self, text: str) -> Doc:
        return Doc(text, self.spans, {}, self.shared)

    def with_spans(self, text: str, spans: tuple[Span, ...]) -> Doc:
        """New masked text that may use spans appended to the table."""
        return Doc(text, spans, {}, self.shared)

    def with_span(self, index: int, span: Span) -> Doc:
        spans = list(self.spans)
        spans[index] = span
        return Doc(self.text, tuple(spans), {}, self.shared)


def mask(text: str, book: Phrasebook) -> Doc:
    """Detect protected spans of ``text`` and replace each by its sentinel."""
    found = detect(text, book.protected_words, book.units)
    parts: list[str] = []
    spans: list[Span] = []
    cursor = 0
    for index, (start, end, kind) in enumerate(found):
        parts.append(text[cursor:start])
        parts.append(sentinel(index))
        spans.append(Span(kind, text[start:end]))
        cursor = end
    parts.append(text[cursor:])
    return Doc("".join(parts), tuple(spans))


def signature(doc: Doc) -> tuple[str, tuple[Span, ...]]:
    """The doc up to which sentinel stands for which span: text shape plus spans in order."""
    shape = SENTINEL_RE.sub("\ufffc", doc.text)
    return shape, tuple(doc.span(ch) for ch in SENTINEL_RE.findall(doc.text))
