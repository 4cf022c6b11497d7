"""One sweep of the passes over a doc, skipping a pass on a doc it already left unchanged."""

from __future__ import annotations

from workers.prompts.doc import Doc
from workers.prompts.passes import Pass, PassContext


class Sweeper:
    """Runs ``passes`` in order over docs of one prompt (one span table meaning)."""

    def __init__(self, passes: list[Pass], ctx: PassContext) -> None:
        self.passes = passes
        self.ctx = ctx
        self._unchanged: dict[str, Doc] = {}

    def forget(self) -> None:
        """Drop what was learned: sentinels are about to mean other spans."""
        self._unchanged.clear()
        self.ctx.keys.clear()

    def sweep(self, doc: Doc) -> tuple[Doc, list[str]]:
        """Run each pass on the previous one's output: (final doc, passes that changed it)."""
        names: list[str] = []
        for step in self.passes:
            new = self.apply(step, doc)
            if new is not doc:
                doc = new
                names.append(step.name)
        return doc, names

    def apply(self, step: Pass, doc: Doc) -> Doc:
        """``step.apply(doc)``, skipped if the pass already left this very doc unchanged."""
        if self._unchanged.get(step.name) is doc:
            return doc
        new = step.apply(doc, self.ctx)
        if new is doc:
            self._unchanged[step.name] = doc
        return new
