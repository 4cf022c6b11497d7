"""Phrase-list text helpers: spelling variants, whole-word regexes and cheap first checks.

Phrases are lower-case; ``[words]`` in brackets are optional. The regexes accept a phrase as
written, Capitalized or UPPER, with "I" as text writes it, and words separated by spaces or
one line break.
"""

from __future__ import annotations

import re

from workers.prompts.trie import trie_pattern

_SEPARATOR = r"(?:[ \t]*\n[ \t]*|[ \t]+)"
_APOSTROPHE = "['’]"
_WORD_END = r"(?![\w'’-])"
_PART = re.compile(r"\[([^\]]+)\]|(\S+)")
_HEAD = re.compile(r"[A-Za-z'’]+")
_PRONOUN_I = re.compile(r"^i(?=$|['’])")
_OPTIONAL = re.compile(r"\[[^\]]*\]")
_NOT_AFTER_A_WORD = r"(?<![\w'’-])"
_NOT_AFTER_A_WORD_AND_ONE = r"(?<![\w'’-].)"
#: Up to this many distinct first letters a phrase regex is led by them (see
#: ``phrase_regex``); with more, nearly every letter would start a full try.
_FEW_FIRST_LETTERS = 12


def head_word(text: str, pos: int) -> str:
    """The word starting at ``pos``, lower-case with plain apostrophes ("" if none)."""
    found = _HEAD.match(text, pos)
    return found.group().lower().replace("’", "'") if found else ""


def normalize_phrase(text: str) -> str:
    return " ".join(text.lower().replace("’", "'").split())


def expand_optional(phrase: str) -> list[str]:
    """Every spelling of a phrase with ``[optional words]``: "[i think] it is [very] nice"."""
    variants = [""]
    for match in _PART.finditer(phrase):
        optional, word = match.group(1), match.group(2)
        if optional is not None:
            variants = [v for base in variants for v in (base, f"{base} {optional}")]
        else:
            variants = [f"{base} {word}" for base in variants]
    return [" ".join(v.split()) for v in variants]


def phrase_regex(phrases: list[str]) -> re.Pattern[str]:
    """Whole-word matcher for lower-case ``phrases`` as written, Capitalized or UPPER.

    Words may be separated by spaces or one line break; the longest phrase wins. Built as a
    prefix tree (see ``trie``) because flat case-insensitive alternations are slow.
    """
    alternatives = []
    for phrase in set(phrases):
        spellings = {phrase, phrase[:1].upper() + phrase[1:], phrase.upper()}
        spellings |= {capital_i(spelling) for spelling in spellings}
        for variant in spellings:
            atoms: list[str] = []
            for n, word in enumerate(variant.split()):
                if n:
                    atoms.append(_SEPARATOR)
                atoms.extend(_APOSTROPHE if ch in "'’" else re.escape(ch) for ch in word)
            if phrase[-1].isalnum():
                atoms.append(_WORD_END)
            alternatives.append(atoms)
    if len({atoms[0] for atoms in alternatives}) > _FEW_FIRST_LETTERS:
        return re.compile(_NOT_AFTER_A_WORD + trie_pattern(alternatives))
    # Few possible first letters: check "not right after a word" once the first letter has
    # matched, so the pattern starts with plain letters the engine scans for quickly.
    return re.compile(trie_pattern(alternatives, guard=_NOT_AFTER_A_WORD_AND_ONE))


def capital_i(phrase: str) -> str:
    """``phrase`` with the pronoun "i" written "I", as in text ("as I said", "I'd")."""
    if "i" not in phrase:
        return phrase
    return " ".join(_PRONOUN_I.sub("I", word) for word in phrase.split(" "))


def heads(phrases: list[str]) -> frozenset[str]:
    return frozenset(head_word(phrase, 0) for phrase in phrases)


def with_union(
    heads: dict[str, frozenset[str]], name: str, parts: tuple[str, ...]
) -> dict[str, frozenset[str]]:
    heads[name] = frozenset().union(*(heads[part] for part in parts))
    return heads


def with_unions(found: dict[str, frozenset[str]]) -> dict[str, frozenset[str]]:
    """Add the anchor sets passes test together (a pass may use several lists)."""
    found["introductions"] = found["introducers"] | found["presenters"]
    found["all_tails"] = found["tails"] | found["request_tails"]
    return found


def anchors(phrases: list[str]) -> frozenset[str]:
    """The longest whole word outside ``[optional]`` parts of each phrase, else its longest
    run of letters ("here" of "here's": still a substring of every spelling)."""
    found = set()
    for phrase in phrases:
        mandatory = _OPTIONAL.sub(" ", phrase.lower())
        words = [w for w in (w.strip(",:;.!?") for w in mandatory.split()) if w.isalpha()]
        runs = words or re.findall("[a-z]+", mandatory)
        found.add(max(runs, key=len) if runs else "")  # "" occurs in every text
    return frozenset(found)
