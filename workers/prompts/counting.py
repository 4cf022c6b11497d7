"""Token counts of successive versions of one prompt, re-encoding only what changed.

tiktoken's pre-tokenizer never merges a newline with the non-space character after it, so a
text's token count is the sum of the counts of its pieces split at those points (and the
same holds between ". " and the next word). Passes change a few sentences at a time; the
unchanged ones come from a per-prompt cache.
"""

from __future__ import annotations

from workers.tokens import encoding_for_model


class TokenCounter:
    """Callable counting tokens of ``text`` under ``model``'s encoding (exactly)."""

    def __init__(self, model: str) -> None:
        self._encoding = encoding_for_model(model)
        self._cache: dict[str, int] = {}

    def __call__(self, text: str) -> int:
        total = 0
        cache = self._cache
        encode = self._encoding.encode
        for piece in _pieces(text):
            count = cache.get(piece)
            if count is None:
                count = len(encode(piece, disallowed_special=()))
                cache[piece] = count
            total += count
        return total


def _pieces(text: str) -> list[str]:
    """``text`` cut at paragraph and sentence boundaries that are token boundaries.

    A cut after blank lines followed by a non-space character, or between ". " and the
    next word, never splits a pre-tokenizer chunk; sentence-sized pieces mean an edit
    re-encodes only the sentences it touched.
    """
    pieces: list[str] = []
    run: list[str] = []
    for block in text.split("\n\n"):
        if run and block[:1].strip():
            _sentences("\n\n".join(run) + "\n\n", pieces)
            run = [block]
        else:
            run.append(block)
    _sentences("\n\n".join(run), pieces)
    return pieces


def _sentences(paragraph: str, pieces: list[str]) -> None:
    parts = paragraph.split(". ")
    last = len(parts) - 1
    for n, part in enumerate(parts):
        head = " " if n else ""
        pieces.append(f"{head}{part}." if n < last else f"{head}{part}")
