"""The pass interface: a pure function from one masked prompt to a shorter one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from workers.prompts.doc import Doc
from workers.prompts.phrasebook import Phrasebook


@dataclass(frozen=True)
class PassContext:
    """What a pass may read besides the prompt: the language's phrase lists and options."""

    book: Phrasebook
    #: Most few-shot examples kept per group by ``cap_examples`` (None: that pass is a no-op).
    max_examples: int | None = None
    #: Dedupe keys by masked text, valid while sentinels keep their meaning (one optimizer
    #: run until spans are detected afresh; the optimizer clears it then).
    keys: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False, repr=False)


class Pass(Protocol):
    """One deterministic rewrite of the masked text; it never sees protected spans' text.

    ``apply`` returns the same ``Doc`` object when it has nothing to do. The optimizer keeps a
    result only if it has no more tokens than the input, and repeats all passes until none
    changes anything, so a pass need not reach its own fixpoint in one call.
    """

    name: str

    def apply(self, doc: Doc, ctx: PassContext) -> Doc: ...
