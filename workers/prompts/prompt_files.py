"""Reading prompts from a file: JSON lines (``{"id": ..., "prompt": ...}``) or plain text.

A file is JSON lines if its name ends in ``.jsonl``/``.ndjson`` or its first non-blank line
is a JSON object with a ``"prompt"``; anything else is one plain-text prompt named after the
file. Every prompt is checked before any is optimized, so bad input changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from workers.errors import InvalidInput
from workers.prompts.optimizer import check_prompt

_JSONL_SUFFIXES = (".jsonl", ".ndjson")


@dataclass(frozen=True)
class PromptItem:
    """One prompt to optimize and the id it is reported under."""

    id: str | int
    prompt: str


def read_prompts(path: Path, max_bytes: int) -> list[PromptItem]:
    """All prompts of ``path``; raises ``InvalidInput`` naming the file and line."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"{path}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{path}: not UTF-8 text (byte {exc.start})") from None
    if not text.strip():
        raise InvalidInput(f"{path}: file is empty")
    if _is_jsonl(path, text):
        return _read_jsonl(path, text, max_bytes)
    try:
        check_prompt(text, max_bytes)
    except InvalidInput as exc:
        raise InvalidInput(f"{path}: {exc}") from None
    return [PromptItem(path.name, text)]


def _is_jsonl(path: Path, text: str) -> bool:
    if path.suffix.lower() in _JSONL_SUFFIXES:
        return True
    first = next(line for line in text.splitlines() if line.strip())
    try:
        doc = json.loads(first)
    except ValueError:
        return False
    return isinstance(doc, dict) and "prompt" in doc


def _read_jsonl(path: Path, text: str, max_bytes: int) -> list[PromptItem]:
    items: list[PromptItem] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            doc = json.loads(line)
        except ValueError as exc:
            raise InvalidInput(f"{where}: invalid JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise InvalidInput(f'{where}: expected a JSON object with "id" and "prompt"')
        prompt = doc.get("prompt")
        if not isinstance(prompt, str):
            raise InvalidInput(f'{where}: "prompt" must be a string')
        try:
            check_prompt(prompt, max_bytes)
        except InvalidInput as exc:
            raise InvalidInput(f"{where}: {exc}") from None
        ident = doc.get("id", number)
        if not isinstance(ident, str | int) or isinstance(ident, bool):
            raise InvalidInput(f'{where}: "id" must be a string or an integer')
        items.append(PromptItem(ident, prompt))
    return items
