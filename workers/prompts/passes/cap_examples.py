"""Keep at most ``max_examples`` few-shot examples per group, the most diverse ones.

Opt-in (``max_examples``): unlike every other pass this one drops content that appears
nowhere else, so the result's protected-span retention (and quality) can fall below 1.
The first example always stays, then the one farthest (Jaccard distance on words) from those
kept so far, and so on; an example holding a placeholder (the query) is never dropped.
"""

from __future__ import annotations

from workers.prompts.doc import Doc, is_sentinel
from workers.prompts.edits import Edit, apply_edits
from workers.prompts.examples import Example, example_groups, example_text, removal, renumber
from workers.prompts.passes.base import PassContext
from workers.prompts.similarity import jaccard_distance, word_set
from workers.prompts.spans import SpanKind


class CapExamplesPass:
    name = "cap_examples"

    def apply(self, doc: Doc, ctx: PassContext) -> Doc:
        limit = ctx.max_examples
        if limit is None:
            return doc
        edits: list[Edit] = []
        for group in example_groups(doc):
            if sum(1 for ex in group if not _has_placeholder(doc, ex)) <= limit:
                continue
            kept = _choose(doc, group, max(limit, 1), ctx)
            edits.extend(removal(doc, ex) for ex in group if ex not in kept)
            edits.extend(renumber(group, [ex for ex in group if ex in kept]))
        return doc.with_text(apply_edits(doc.text, edits)) if edits else doc


def _choose(doc: Doc, group: list[Example], limit: int, ctx: PassContext) -> list[Example]:
    sets = {id(ex): word_set(doc, example_text(doc, ex), ctx.book) for ex in group}
    queries = [ex for ex in group if _has_placeholder(doc, ex)]
    shots = [ex for ex in group if ex not in queries]
    kept = shots[:1]
    while len(kept) < limit:
        rest = [ex for ex in shots if ex not in kept]
        if not rest:
            break
        best = max(
            rest,
            key=lambda ex: (
                min(jaccard_distance(sets[id(ex)], sets[id(k)]) for k in kept),
                -group.index(ex),
            ),
        )
        kept.append(best)
    return kept + queries


def _has_placeholder(doc: Doc, example: Example) -> bool:
    text = doc.text[example.lines[0].start : example.lines[-1].end]
    return any(doc.span(ch).kind is SpanKind.PLACEHOLDER for ch in text if is_sentinel(ch))
