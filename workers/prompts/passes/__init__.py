"""Registry of optimizer passes, in the order the pipeline runs them.

Adding a pass is one module with a class that has ``name`` and ``apply`` (see
``base.Pass``) plus one entry here.
"""

from __future__ import annotations

from collections.abc import Iterable

from workers.errors import UnknownName
from workers.prompts.passes.asides import AsidesPass
from workers.prompts.passes.base import Pass, PassContext
from workers.prompts.passes.cap_examples import CapExamplesPass
from workers.prompts.passes.clauses import ClausesPass
from workers.prompts.passes.dedupe_examples import DedupeExamplesPass
from workers.prompts.passes.dedupe_paragraphs import DedupeParagraphsPass
from workers.prompts.passes.dedupe_sentences import DedupeSentencesPass
from workers.prompts.passes.demonstratives import DemonstrativesPass
from workers.prompts.passes.filler import FillerPass
from workers.prompts.passes.fold_openers import FoldOpenersPass
from workers.prompts.passes.hedges import HedgesPass
from workers.prompts.passes.introducers import IntroducersPass
from workers.prompts.passes.minify_json import MinifyJsonPass
from workers.prompts.passes.minify_tables import MinifyTablesPass
from workers.prompts.passes.openers import OpenersPass
from workers.prompts.passes.pleasantries import PleasantriesPass
from workers.prompts.passes.restatements import RestatementsPass
from workers.prompts.passes.unicode import UnicodePass
from workers.prompts.passes.verbose import VerbosePass
from workers.prompts.passes.whitespace import WhitespacePass

__all__ = ["DEFAULT_PASSES", "REGISTRY", "Pass", "PassContext", "resolve"]

#: Every pass by name, in pipeline order: data minification first (it only rewrites spans,
#: so it settles at once), cheap normalization, phrase-level edits, then dropping repeated
#: units (easier to spot once fillers are gone), then structure.
REGISTRY: dict[str, Pass] = {
    p.name: p
    for p in (
        MinifyJsonPass(),
        MinifyTablesPass(),
        UnicodePass(),
        WhitespacePass(),
        PleasantriesPass(),
        AsidesPass(),
        RestatementsPass(),
        OpenersPass(),
        IntroducersPass(),
        FillerPass(),
        HedgesPass(),
        VerbosePass(),
        ClausesPass(),
        DemonstrativesPass(),
        DedupeExamplesPass(),
        CapExamplesPass(),
        DedupeParagraphsPass(),
        DedupeSentencesPass(),
        FoldOpenersPass(),
    )
}

#: Passes run when the caller names none (``cap_examples`` only acts with ``max_examples``).
DEFAULT_PASSES: tuple[str, ...] = tuple(REGISTRY)


def resolve(names: Iterable[str] | None = None) -> list[Pass]:
    """Passes by name in pipeline order; unknown names fail listing the known ones."""
    wanted = DEFAULT_PASSES if names is None else tuple(names)
    unknown = [n for n in wanted if n not in REGISTRY]
    if unknown:
        raise UnknownName(
            f"unknown prompt pass(es) {', '.join(unknown)}; known: {', '.join(REGISTRY)}"
        )
    chosen = set(wanted)
    return [p for name, p in REGISTRY.items() if name in chosen]
