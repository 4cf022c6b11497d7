"""Drop repeated few-shot examples (same content once the ``Example N`` number is ignored).

The first occurrence stays and the remaining ``Example N`` headers are renumbered.
"""

from __future__ import annotations

from workers.prompts.doc import Doc
from workers.prompts.edits import Edit, apply_edits
from workers.prompts.examples import example_groups, example_text, removal, renumber
from workers.prompts.passes.base import PassContext
from workers.prompts.similarity import key


class DedupeExamplesPass:
    name = "dedupe_examples"

    def apply(self, doc: Doc, ctx: PassContext) -> Doc:
        edits: list[Edit] = []
        for group in example_groups(doc):
            seen: set[tuple[str, ...]] = set()
            kept = []
            for example in group:
                words = key(doc, example_text(doc, example), ctx.book, ctx.keys)
                if words in seen:
                    edits.append(removal(doc, example))
                else:
                    seen.add(words)
                    kept.append(example)
            if len(kept) < len(group):
                edits.extend(renumber(group, kept))
        return doc.with_text(apply_edits(doc.text, edits)) if edits else doc
