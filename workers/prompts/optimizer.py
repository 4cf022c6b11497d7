"""The optimizer pipeline and its guarantees.

* Never more tokens: a sweep's changes are kept only if they leave fewer tokens (or as
  many tokens and fewer bytes), counted with the model's tiktoken encoding exactly as
  ``workers.tokens.count_tokens`` does; a sweep that does not shrink the prompt is replayed
  pass by pass, keeping each pass only if it shrinks it. The input is returned if the
  result were longer.
* Idempotent: passes sweep until none changes anything and a fresh detection of spans on
  the result sees the same spans; optimizing the output again repeats that empty sweep.
* A prompt with words never comes back without any ("Hello!" stays "Hello!").
* Protected spans are masked before any pass runs, so they come back byte-identical (JSON
  and tables may be minified to the same parsed value); the result reports the share kept.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from typing import Any

from workers.defaults import MAX_PROMPT_BYTES
from workers.errors import InvalidInput
from workers.prompts.counting import TokenCounter
from workers.prompts.doc import Doc, mask, signature
from workers.prompts.metrics import (
    content_retention,
    cost_saved_per_1k_calls,
    quality,
    span_retention,
)
from workers.prompts.passes import Pass, PassContext, resolve
from workers.prompts.phrasebook import DEFAULT_LANGUAGE, load_phrasebook
from workers.prompts.sweeps import Sweeper
from workers.tokens import encoding_name

#: Model whose encoding and price are used when the caller names none.
DEFAULT_MODEL = "gpt-4o-mini"
#: Bump when a pass changes what it outputs, so stored template versions are made again.
PIPELINE_VERSION = 2
#: Safety net only: every kept change shrinks (tokens, bytes); prompts settle in 2-4 sweeps.
MAX_ROUNDS = 32


@dataclass(frozen=True)
class OptimizeResult:
    """One optimized prompt with its token counts, savings, quality and the passes that fired."""

    original: str
    optimized: str
    model: str
    encoding: str
    original_tokens: int
    optimized_tokens: int
    cost_saved_per_1k_calls: Decimal | None
    protected_retention: float
    content_retention: float
    quality: float
    passes: tuple[str, ...]

    @property
    def tokens_saved(self) -> int:
        return self.original_tokens - self.optimized_tokens

    @property
    def reduction(self) -> float:
        """Share of tokens saved, 0..1."""
        return self.tokens_saved / self.original_tokens if self.original_tokens else 0.0

    def to_dict(self, prompt_id: str | None = None) -> dict[str, Any]:
        """The JSON contract of ``prompts optimize --json`` (plus savings and retention)."""
        cost = self.cost_saved_per_1k_calls
        return {
            "id": prompt_id,
            "original_tokens": self.original_tokens,
            "optimized_tokens": self.optimized_tokens,
            "optimized": self.optimized,
            "quality": self.quality,
            "passes": list(self.passes),
            "model": self.model,
            "encoding": self.encoding,
            "cost_saved_per_1k_calls_usd": None if cost is None else str(cost),
            "protected_retention": self.protected_retention,
            "content_retention": self.content_retention,
        }


def revision(language: str = DEFAULT_LANGUAGE) -> str:
    """Short digest of the pipeline version and the language's phrase lists.

    Two runs with the same revision, model and input give the same output.
    """
    folder = resources.files("workers.prompts").joinpath("data")
    data = folder.joinpath(f"{language}.json").read_bytes()
    return hashlib.sha256(f"{PIPELINE_VERSION}\0".encode() + data).hexdigest()[:12]


def check_prompt(prompt: object, max_bytes: int = MAX_PROMPT_BYTES) -> str:
    """Return ``prompt`` if it is text within ``max_bytes`` UTF-8 bytes, else InvalidInput."""
    if not isinstance(prompt, str):
        raise InvalidInput(f"prompt must be a string, not {type(prompt).__name__}")
    try:
        size = len(prompt.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidInput("prompt is not valid Unicode text (lone surrogate)") from None
    if size > max_bytes:
        raise InvalidInput(
            f"prompt is {size} bytes, above the limit of {max_bytes} bytes (max_prompt_bytes)"
        )
    return prompt


def optimize(
    prompt: str,
    *,
    model: str = DEFAULT_MODEL,
    passes: Iterable[str] | None = None,
    language: str = DEFAULT_LANGUAGE,
    max_examples: int | None = None,
    max_bytes: int = MAX_PROMPT_BYTES,
) -> OptimizeResult:
    """Optimize one prompt for ``model``.

    ``passes`` picks passes by name (default: all, in pipeline order); ``max_examples`` turns
    on example capping, the one lossy pass. Raises ``InvalidInput`` for a non-string or
    oversized prompt and ``UnknownName`` for an unknown pass or language.
    """
    check_prompt(prompt, max_bytes)
    book = load_phrasebook(language)
    chosen = resolve(passes)
    ctx = PassContext(book, max_examples)
    counter = TokenCounter(model)
    before = counter(prompt)
    text, fired, first, last, after = _run(prompt, before, chosen, ctx, counter)
    if after > before:
        text, after, fired, last = prompt, before, [], first
    if last is first:  # nothing changed: everything was kept
        spans_kept = content_kept = 1.0
    else:
        spans_kept = span_retention(first, last)
        content_kept = content_retention(first, last, book)
    return OptimizeResult(
        original=prompt,
        optimized=text,
        model=model,
        encoding=encoding_name(model),
        original_tokens=before,
        optimized_tokens=after,
        cost_saved_per_1k_calls=cost_saved_per_1k_calls(model, before, after),
        protected_retention=round(spans_kept, 4),
        content_retention=round(content_kept, 4),
        quality=quality(spans_kept, content_kept),
        passes=tuple(fired),
    )


def _emptied(before: str, after: str) -> bool:
    """True if a prompt with words would come back with none ("Hello!" must stay)."""
    return not any(ch.isalnum() for ch in after) and any(ch.isalnum() for ch in before)


def _run(
    prompt: str, tokens: int, chosen: list[Pass], ctx: PassContext, counter: TokenCounter
) -> tuple[str, list[str], Doc, Doc, int]:
    """Sweep the passes until none changes anything.

    ``tokens`` is the prompt's count; returns (text, passes fired, first doc, last doc, the
    text's count).

    Spans are detected once up front; edits carry them along as sentinels. At a fixpoint
    the text is masked afresh: if detection sees the same spans, a fresh run would change
    nothing either (passes ignore which sentinel is which), so that fixpoint is final and a
    second ``optimize`` returns its input. Otherwise the sweeps go on from the fresh doc.
    A pass is skipped on a doc it already left unchanged.

    A sweep's changes are counted once, together: when they shrink the prompt they are
    all kept; otherwise the sweep is replayed one pass at a time, each pass kept only if
    it shrinks the prompt (fewer tokens, or as many and fewer bytes).
    """
    text = prompt
    cost = (tokens, len(text.encode("utf-8")))
    fired: list[str] = []
    first = doc = fresh = mask(text, ctx.book)
    sweeper = Sweeper(chosen, ctx)
    for _ in range(MAX_ROUNDS):
        new, names = sweeper.sweep(doc)
        if new is not doc:
            candidate = new.restore()
            new_cost = (counter(candidate), len(candidate.encode("utf-8")))
            if new_cost < cost and not _emptied(text, candidate):
                doc, text, cost = new, candidate, new_cost
            else:  # the sweep as a whole does not shrink the prompt: replay it pass by pass
                doc, text, cost, names = _careful_sweep(doc, text, cost, sweeper, counter)
            fired.extend(name for name in names if name not in fired)
            if names:
                continue
        if doc is fresh:
            return text, fired, first, fresh, cost[0]
        fresh = mask(text, ctx.book)
        if signature(fresh) == signature(doc):
            return text, fired, first, fresh, cost[0]
        doc = fresh
        sweeper.forget()
    return text, fired, first, mask(text, ctx.book), cost[0]


def _careful_sweep(
    doc: Doc, text: str, cost: tuple[int, int], sweeper: Sweeper, counter: TokenCounter
) -> tuple[Doc, str, tuple[int, int], list[str]]:
    """Run each pass on the last kept doc and keep its result only if it shrinks the prompt."""
    names: list[str] = []
    for step in sweeper.passes:
        new = sweeper.apply(step, doc)
        if new is doc:
            continue
        candidate = new.restore()
        new_cost = (counter(candidate), len(candidate.encode("utf-8")))
        if new_cost < cost and not _emptied(text, candidate):
            doc, text, cost = new, candidate, new_cost
            names.append(step.name)
    return doc, text, cost, names
