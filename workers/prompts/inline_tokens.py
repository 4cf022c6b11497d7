"""Inline detectors for word-like tokens: dates and times, and identifiers.

Each detector yields (start, end, kind) candidates for ``inline_spans.find_inline``, which
merges them with the other detectors' (see there for the rules).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from workers.prompts.trie import words_pattern

Candidate = tuple[int, int, str]
Detector = Callable[[str, int, int], Iterator[Candidate]]

_MONTH = (
    "(?:"
    + words_pattern(
        "Jan January Feb February Mar March Apr April May Jun June Jul July Aug August Sep Sept "
        "September Oct October Nov November Dec December".split()
    )
    + ")"
)
_ZONE = r"(?:UTC|GMT|CET|CEST|EET|EST|EDT|CST|CDT|MST|MDT|PST|PDT|IST|JST|AEST|Z)"
_DATE_DIGITS = re.compile(
    r"[0-9](?:[0-9]{3}-[0-9]{2}-[0-9]{2}(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)?"
    r"(?:Z|[+-][0-9]{2}:?[0-9]{2})?)?\b"
    rf"|[0-9]?:[0-9]{{2}}(?::[0-9]{{2}})?(?:[ \t]?[AaPp]\.?[Mm]\b\.?)?(?:[ \t]?{_ZONE}\b)?"
    rf"|[0-9]?(?:st|nd|rd|th)?[ \t]+{_MONTH}\b(?:,?[ \t]+[0-9]{{4}}\b)?"
    r"|[0-9]?-[0-9]{1,2}\b(?![-\w]))"
)
#: Month dates and quarters: one leading class lets the regex engine skip ahead in C, the
#: lookbehinds say which it was. Group 1 ends the month word, checked against ``_MONTHS``.
_DATE_WORDS = re.compile(
    r"[JFMASONDQH](?:(?<=[QH])[1-4][ \t]+[0-9]{4}\b"
    r"|(?<=[JFMASOND])([a-z]+)"
    r"(?:\.?[ \t]+[0-9]{1,2}(?:st|nd|rd|th)?\b(?:,?[ \t]+[0-9]{4}\b)?|[ \t]+[0-9]{4}\b))"
)
_DIGIT = re.compile("[0-9]")
_MONTHS = frozenset(
    "Jan January Feb February Mar March Apr April May Jun June Jul July Aug August Sep Sept "
    "September Oct October Nov November Dec December".split()
)
#: Where an identifier may start: ``[A-Z0-9_]\w*``, ``.x``, ``-x``, ``--x`` or ``:x:``. One
#: leading class lets the engine skip ahead in C; the lookbehinds then say which it was. A
#: lone Capitalized word ("Please", "The") fails here instead of in a Python step.
_IDENT_START = re.compile(
    r"[A-Z0-9_.:-](?:(?<=[A-Z])(?!(?<![A-Za-z0-9_.-].)[a-z]*(?![\w.:/@-]))\w*"
    r"|(?<=[0-9_])\w*|(?<=\.)[A-Za-z0-9]|(?<=-)-?[A-Za-z]|(?<=:)[\w.*/-]*:)"
)
_JOINERS = frozenset(".-_:/@")
_TOKEN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
_IDENT = re.compile(
    r"--?[A-Za-z][\w-]*(?:=[^\s,;]+)?"
    r"|[A-Za-z][\w.-]*(?::[\w.*/-]*){2,}[\w*/]"
    r"|[A-Za-z_][A-Za-z0-9_]*_[A-Za-z0-9_]*"
    r"|[a-z]+[A-Z][A-Za-z0-9]*"
    r"|[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)+"
    r"|[A-Z]{2,}[A-Za-z0-9]*"
    r"|[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*(?:\.[A-Za-z0-9]+)+(?:-[A-Za-z0-9]+)*"
    r"|(?=[A-Za-z0-9-]*[0-9])[A-Za-z0-9]+(?:-[A-Za-z0-9]+)+"
    r"|[A-Za-z]+[0-9][A-Za-z0-9]*"
)


def is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


def dates(text: str, lo: int, hi: int) -> Iterator[Candidate]:
    digit = _DIGIT.search(text, lo, hi)
    if digit is None:  # every date has a digit
        return
    for match in _DATE_DIGITS.finditer(text, digit.start(), hi):
        start = match.start()
        if start == lo or not is_word(text[start - 1]):
            yield start, match.end(), "datetime"
    for match in _DATE_WORDS.finditer(text, lo, hi):
        start = match.start()
        word_end = match.end(1)
        if word_end > 0 and text[start:word_end] not in _MONTHS:
            continue  # a capitalized word that is not a month: "Section 3"
        if start == lo or not is_word(text[start - 1]):
            yield start, match.end(), "datetime"


def identifiers(text: str, lo: int, hi: int) -> Iterator[Candidate]:
    last = lo
    for match in _IDENT_START.finditer(text, lo, hi):
        start = match.start()
        if start < last:
            continue
        word = match.group()
        if (
            (word.isdigit() or (word.isalpha() and (len(word) == 1 or word[1:].islower())))
            and (start == lo or text[start - 1] not in _TOKEN_CHARS)
            and (match.end() >= hi or text[match.end()] not in _JOINERS)
        ):
            continue  # a plain number or Capitalized word: not an identifier
        if text[start] == "-":
            if start > lo and (is_word(text[start - 1]) or text[start - 1] == "-"):
                continue
        else:
            while start > lo and text[start - 1] in _TOKEN_CHARS:
                start -= 1
        while start < match.start() and text[start] in ".-":
            start += 1
        found = _IDENT.match(text, start, hi)
        if (
            found
            and found.end() > match.start()
            and (found.end() >= hi or not is_word(text[found.end()]))
        ):
            last = found.end()
            yield start, found.end(), "identifier"
