"""Token counts of successive versions of one prompt, exactly as ``count_tokens`` gives them.

One tiktoken call over the whole text is the fastest exact count: caching sentence-sized
pieces and re-encoding only changed ones was measured slower on the benchmark corpus (each
encode call has a fixed cost that outweighs the bytes it saves), and as fast on a 36 KiB
prompt.
"""

from __future__ import annotations

from workers.tokens import encoding_for_model


class TokenCounter:
    """Callable counting tokens of ``text`` under ``model``'s encoding (special tokens as text)."""

    def __init__(self, model: str) -> None:
        self._encode = encoding_for_model(model).encode_ordinary

    def __call__(self, text: str) -> int:
        return len(self._encode(text))
