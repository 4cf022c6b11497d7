"""Word lists compiled as prefix trees: ``n(?:o(?:t)?|ever)`` instead of ``not|no|never``.

Python's regex engine tries a flat alternation's branches one by one at every position; a
tree fails after one character for most positions, which makes long phrase lists cheap.
Alternatives are sequences of *atoms* (regex snippets); the longest match is preferred.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

_END = ""


def trie_pattern(alternatives: Iterable[Sequence[str]], guard: str = "") -> str:
    """One regex (without groups that capture) matching any of ``alternatives``.

    ``guard`` (an assertion) is placed right after each alternative's first atom: written
    there rather than in front, it leaves the pattern starting with plain characters, which
    lets the regex engine skip to the next possible first character in C instead of trying
    the whole pattern at every position.
    """
    root: dict = {}
    for atoms in alternatives:
        node = root
        for atom in atoms:
            node = node.setdefault(atom, {})
        node[_END] = {}
    return _build(root, guard)


def words_pattern(words: Iterable[str]) -> str:
    """A prefix-tree regex for literal ``words``."""
    return trie_pattern([re.escape(ch) for ch in word] for word in words if word)


def _build(node: dict, guard: str = "") -> str:
    # Deeper branches first: Python's alternation takes the first branch that matches, and a
    # longer phrase must win over its own prefix ("please note that" over "please").
    children = sorted(
        ((atom, child) for atom, child in node.items() if atom != _END),
        key=lambda item: (-_depth(item[1]), item[0]),
    )
    branches = [atom + guard + _build(child) for atom, child in children]
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    if _END in node:
        return f"(?:{body})?"
    return body


def _depth(node: dict) -> int:
    return 1 + max((_depth(child) for atom, child in node.items() if atom != _END), default=0)
