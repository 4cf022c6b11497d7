"""Whitespace normalization: trailing spaces, runs of spaces, runs of blank lines, edges.

Leading indentation and tabs are kept: they carry structure (nested lists, TSV columns).
Aligned columns and code are protected spans, so their spacing never reaches this pass.
"""

from __future__ import annotations

import re

from workers.prompts.doc import Doc
from workers.prompts.passes.base import PassContext

_TRAILING = re.compile(r"[ \t]+(?=\n|$)")
_RUNS = re.compile(r"(?<=\S) {2,}(?=\S)")
_BLANK_RUNS = re.compile(r"\n{3,}")


class WhitespacePass:
    name = "whitespace"

    def apply(self, doc: Doc, ctx: PassContext) -> Doc:
        text = doc.text
        if (
            "  " not in text
            and " \n" not in text
            and "\t\n" not in text
            and "\n\n\n" not in text
            and text == text.strip()
        ):
            return doc
        text = _TRAILING.sub("", doc.text)
        text = _RUNS.sub(" ", text)
        text = _BLANK_RUNS.sub("\n\n", text)
        text = text.lstrip("\n").rstrip()
        return doc if text == doc.text else doc.with_text(text)
