"""Token counts of successive versions of one prompt, re-encoding only what changed.

tiktoken's pre-tokenizer never merges a newline with the non-space character after it, so a
text's token count is the sum of the counts of its pieces split at those points (and the
same holds between ". " and the next word). Passes change a few sentences at a time; the
unchanged ones come from a per-prompt cache. The first version is encoded in one call and
its pieces' counts are read off the tokens' byte lengths, which is much cheaper than one
call per piece.
"""

from __future__ import annotations

from bisect import bisect_right
from functools import lru_cache
from itertools import accumulate

import tiktoken

from workers.tokens import encoding_for_model


class TokenCounter:
    """Callable counting tokens of ``text`` under ``model``'s encoding (exactly)."""

    def __init__(self, model: str) -> None:
        self._encoding = encoding_for_model(model)
        self._cache: dict[str, int] = {}

    def __call__(self, text: str) -> int:
        pieces = _pieces(text)
        cache = self._cache
        if not cache and len(pieces) > 1:
            return self._first(text, pieces)
        total = 0
        encode = self._encoding.encode_ordinary
        for piece in pieces:
            count = cache.get(piece)
            if count is None:
                count = cache[piece] = len(encode(piece))
            total += count
        return total

    def _first(self, text: str, pieces: list[str]) -> int:
        """Encode ``text`` once and record each piece's share of its tokens."""
        tokens = self._encoding.encode_ordinary(text)
        ends = list(accumulate(map(_token_lengths(self._encoding).__getitem__, tokens)))
        ascii_only = text.isascii()
        cache = self._cache
        offset = used = 0
        for piece in pieces:
            offset += len(piece) if ascii_only else len(piece.encode("utf-8"))
            upto = bisect_right(ends, offset, used)
            cache[piece] = upto - used
            used = upto
        return len(tokens)


@lru_cache(maxsize=8)
def _token_lengths(encoding: tiktoken.Encoding) -> list[int]:
    """Byte length of every token of ``encoding``, by token id (built once per process)."""
    decode = encoding.decode_single_token_bytes
    lengths = []
    for token in range(encoding.max_token_value + 1):
        try:
            lengths.append(len(decode(token)))
        except KeyError:  # a gap in the vocabulary: encode never produces it
            lengths.append(0)
    return lengths


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
