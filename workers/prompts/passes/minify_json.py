"""Minify JSON blocks: whitespace outside strings goes, every literal stays byte-identical.

Kept only when the minified text parses to the same value (key order and duplicate keys
included), which ``spans.minify_json_text`` checks.
"""

from __future__ import annotations

from workers.prompts.doc import Doc
from workers.prompts.passes.base import PassContext
from workers.prompts.spans import Span, SpanKind, minify_json_text


class MinifyJsonPass:
    name = "minify_json"

    def apply(self, doc: Doc, ctx: PassContext) -> Doc:
        for index, span in enumerate(doc.spans):
            if span.kind is SpanKind.JSON:
                minified = minify_json_text(span.text)
                if minified != span.text:
                    doc = doc.with_span(index, Span(SpanKind.JSON, minified))
        return doc
