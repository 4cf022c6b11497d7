"""Unicode normalization: NFC, odd spaces to plain ones, invisible characters and smart quotes."""

from __future__ import annotations

import re
import unicodedata

from workers.prompts.doc import Doc
from workers.prompts.passes.base import PassContext

_SPACES = re.compile("[\u00a0\u2000-\u200a\u202f\u205f\u3000]")
_INVISIBLE = re.compile("[\u200b\u2060\ufeff\u00ad]")
_TYPOGRAPHIC = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"'})
_ANY = re.compile("[\r\u00a0\u2000-\u200b\u202f\u205f\u3000\u2060\ufeff\u00ad’‘“”]")


class UnicodePass:
    """Only text outside protected spans is touched (quoted strings keep their quotes)."""

    name = "unicode"

    def apply(self, doc: Doc, ctx: PassContext) -> Doc:
        if unicodedata.is_normalized("NFC", doc.text) and not _ANY.search(doc.text):
            return doc
        text = unicodedata.normalize("NFC", doc.text)
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        text = _INVISIBLE.sub("", _SPACES.sub(" ", text)).translate(_TYPOGRAPHIC)
        return doc if text == doc.text else doc.with_text(text)
