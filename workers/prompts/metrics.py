"""Result metrics: protected-span retention, content-word retention, quality and savings."""

from __future__ import annotations

import re
from decimal import Decimal
from functools import lru_cache

from genai_prices import Usage, calc_price

from workers.prompts.doc import Doc
from workers.prompts.phrasebook import Phrasebook

#: Savings are quoted per this many calls: per-call figures are fractions of a cent.
CALLS_PER_QUOTE = 1000
#: A letter first (not a repeat) lets the engine scan for it quickly.
_WORD = re.compile(r"[^\W\d_][^\W\d_]*(?:'[^\W\d_]+)*")
#: ``_WORD`` for lower-case text that is ASCII outside sentinels (see ``Doc.ascii_words``).
_ASCII_WORD = re.compile(r"[a-z][a-z]*(?:'[a-z]+)*")


def span_retention(before: Doc, after: Doc) -> float:
    """Share of the input's distinct protected spans found unchanged in the output.

    Spans compare by canonical form (JSON and tables minified, everything else exact); a
    span also counts as kept when it sits inside a longer output span ("10" in "10 ms").
    """
    wanted = {span.canonical for span in before.spans}
    if not wanted:
        return 1.0
    have = {span.canonical for span in after.spans}
    joined = "\x00".join(have)
    kept = sum(1 for c in wanted if c in have or c in joined)
    return kept / len(wanted)


def content_words(doc: Doc, book: Phrasebook) -> set[str]:
    """Distinct words outside protected spans, stopwords and the phrase lists' vocabulary."""
    words = set((_ASCII_WORD if doc.ascii_words() else _WORD).findall(doc.lowered()))
    return words - book.stopwords - book.vocabulary


def content_retention(before: Doc, after: Doc, book: Phrasebook) -> float:
    wanted = content_words(before, book)
    if not wanted:
        return 1.0
    return len(wanted & content_words(after, book)) / len(wanted)


def quality(span_kept: float, content_kept: float) -> float:
    """Product of both retentions in [0, 1]; 1.0 means nothing that carries meaning went."""
    return round(span_kept * content_kept, 4)


@lru_cache(maxsize=4096)
def input_cost(model: str, tokens: int) -> Decimal | None:
    """USD for ``tokens`` input tokens of ``model``; None when the price is unknown."""
    try:
        return calc_price(Usage(input_tokens=tokens), model_ref=model).input_price
    except (LookupError, ValueError):
        return None


def cost_saved_per_1k_calls(model: str, before: int, after: int) -> Decimal | None:
    """Input cost saved over 1,000 calls; None (never 0) when the model has no known price."""
    high, low = input_cost(model, before), input_cost(model, after)
    if high is None or low is None:
        return None
    return (high - low) * CALLS_PER_QUOTE
