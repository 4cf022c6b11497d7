"""Minify pipe tables: cell padding and long delimiter rows go, cell text stays identical."""

from __future__ import annotations

from workers.prompts.doc import Doc
from workers.prompts.passes.base import PassContext
from workers.prompts.spans import Span, SpanKind, minify_table_text


class MinifyTablesPass:
    name = "minify_tables"

    def apply(self, doc: Doc, ctx: PassContext) -> Doc:
        for index, span in enumerate(doc.spans):
            if span.kind is SpanKind.TABLE:
                minified = minify_table_text(span.text)
                if minified != span.text:
                    doc = doc.with_span(index, Span(SpanKind.TABLE, minified))
        return doc
