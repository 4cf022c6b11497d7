"""Protected spans inside a line of prose.

Each detector is a regex that starts with a literal or a character class (so the regex
engine can skip ahead in C) plus a little Python to check word boundaries or widen the hit
to the whole token. Candidates are merged like one big alternation would: the leftmost
start wins, then the detector listed first. A ``skip`` candidate (a ``1.`` list number, an
``Example 2`` header) wins its place but is not protected, so passes may renumber it.
Dates and identifiers have their own module (``inline_tokens``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

from workers.prompts.inline_tokens import Candidate, Detector, dates, identifiers, is_word
from workers.prompts.trie import words_pattern

_NUM_REST = r"[0-9]*(?:[,_][0-9]{3})*(?:\.[0-9]+)*(?:[eE][+-]?[0-9]+)?(?:/[0-9]+)*"
_NUM = "[0-9]" + _NUM_REST
_DIGIT = re.compile("[0-9]")

_SKIP = re.compile(r"\n[ \t]*(?:[0-9]{1,3}[.)](?=[ \t])|Example[ \t]+[0-9]{1,3}\b)")
_SKIP_AT_START = re.compile(r"[ \t]*(?:[0-9]{1,3}[.)](?=[ \t])|Example[ \t]+[0-9]{1,3}\b)")
_CODE = re.compile(r"``[^\n]+?``|`[^`\n]+`")
_OPAQUE = re.compile("[\U000f0000-\U0010fffd]+")
_PLACEHOLDER = re.compile(
    r"\$\{[^{}\n]{1,200}\}|\{(?:[^{}\n]|\{(?:[^{}\n]|\{[^{}\n]*\})*\})*\}"
    r"|<[A-Za-z/!][^<>\n]{0,200}>|\[\[[^\]\n]{1,200}\]\]|%\([A-Za-z_]\w*\)[sdfr]"
    r"|\$[A-Z_][A-Z0-9_]+\b"
)
_SCHEME_END = re.compile("://")
_WWW = re.compile(r"www\.")
_URL_TAIL = re.compile(r"[^\s<>\"'`]*[^\s<>\"'`.,;:!?)\]]")
_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")
_AT = re.compile(r"@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+\b")
_LOCAL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.+-")
_SLASH = re.compile("/")
_DRIVE = re.compile(r":\\")
_PATH_SEG = r"[\w@%+~-]+(?:\.[\w@%+~-]+)*"
_PATH = re.compile(rf"(?:~|\.{{1,2}})?(?:/{_PATH_SEG})+/?|{_PATH_SEG}(?:/{_PATH_SEG})+/?")
_WINDOWS = re.compile(r"[A-Za-z]:\\[^\s\"'<>]+")
_PATH_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+~-.")
_QUOTED = re.compile(
    r"\"[^\"\n]{1,400}\"|“[^”\n]{1,400}”|‘[^’\n]{1,400}’|«[^»\n]{1,400}»|'[^'\n]{1,200}'(?!\w)"
)
#: Every quoted span opens with one of these; a text with none skips the scan.
_QUOTE_MARKS = "\"“‘«'"
_NT = re.compile(r"n['’]t\b")


def _opaque(text: str, lo: int, hi: int) -> Iterator[Candidate]:
    if text.isascii():
        return
    first = _OPAQUE.search(text, lo, hi)
    if first is None:
        return
    for match in _OPAQUE.finditer(text, first.start(), hi):
        yield match.start(), match.end(), "opaque"


def _plain(pattern: re.Pattern[str], kind: str, marks: str) -> Detector:
    """Every match of ``pattern``; the text must hold one of ``marks`` for any to exist."""

    def detect(text: str, lo: int, hi: int) -> Iterator[Candidate]:
        if not any(mark in text for mark in marks):
            return
        for match in pattern.finditer(text, lo, hi):
            yield match.start(), match.end(), kind

    return detect


_inline_code = _plain(_CODE, "inline_code", "`")
_placeholders = _plain(_PLACEHOLDER, "placeholder", "${<[%")


def _skip(text: str, lo: int, hi: int) -> Iterator[Candidate]:
    if lo == 0 or text[lo - 1] == "\n":
        match = _SKIP_AT_START.match(text, lo, hi)
        if match:
            yield match.start(), match.end(), "skip"
    for match in _SKIP.finditer(text, max(lo - 1, 0), hi):
        yield match.start() + 1, match.end(), "skip"


def _urls(text: str, lo: int, hi: int) -> Iterator[Candidate]:
    # "://" and "www." are scanned for apart: one literal is found much faster than either
    # of two, and most texts hold neither.
    if "://" in text:
        for match in _SCHEME_END.finditer(text, lo, hi):
            start = match.start()
            while start > lo and text[start - 1] in _SCHEME_CHARS:
                start -= 1
            if start < match.start() and text[start].isalpha():
                tail = _URL_TAIL.match(text, match.end(), hi)
                if tail:
                    yield start, tail.end(), "url"
    if "www." in text:
        for match in _WWW.finditer(text, lo, hi):
            start = match.start()
            if start == lo or not is_word(text[start - 1]):
                tail = _URL_TAIL.match(text, match.end(), hi)
                if tail:
                    yield start, tail.end(), "url"


def _emails(text: str, lo: int, hi: int) -> Iterator[Candidate]:
    if "@" not in text:
        return
    for match in _AT.finditer(text, lo, hi):
        start = match.start()
        while start > lo and text[start - 1] in _LOCAL_CHARS:
            start -= 1
        if start < match.start():
            yield start, match.end(), "email"


def _paths(text: str, lo: int, hi: int) -> Iterator[Candidate]:
    # Slashes and drive marks are scanned for apart, like the marks of URLs.
    if ":\\" in text:
        for match in _DRIVE.finditer(text, lo, hi):
            start = match.start() - 1
            found = _WINDOWS.match(text, start, hi) if start >= lo else None
            if found and (start == lo or not is_word(text[start - 1])):
                yield start, found.end(), "path"
    if "/" not in text:
        return
    for match in _SLASH.finditer(text, lo, hi):
        start = match.start()
        while start > lo and (text[start - 1] in _PATH_CHARS):
            start -= 1
        if start > lo and text[start - 1] in "/":
            continue
        found = _PATH.match(text, start, hi)
        if found and found.end() > match.start() + 1:
            yield start, found.end(), "path"


def _quoted(text: str, lo: int, hi: int) -> Iterator[Candidate]:
    if not any(mark in text for mark in _QUOTE_MARKS):
        return
    for match in _QUOTED.finditer(text, lo, hi):
        start = match.start()
        if (
            text[start] == "'"
            and start > lo
            and (is_word(text[start - 1]) or text[start - 1] in "'’")
        ):
            continue
        yield start, match.end(), "quoted"


@lru_cache(maxsize=8)
def _detectors(protected_words: frozenset[str], units: frozenset[str]) -> tuple[Detector, ...]:
    """All detectors in rank order: on equal starts the one listed first wins."""
    variants = {v for w in protected_words for v in (w, w.capitalize(), w.upper())}
    word_list = words_pattern(variants)
    words_at = re.compile(rf"(?:{word_list})\b")
    # Trying the word list at every letter is slow; a word counts only where a token starts,
    # so the pattern also takes the character before it (anything but an ASCII word
    # character, apostrophe or hyphen), which leaves the engine far fewer places to try.
    words_after = re.compile(rf"[^A-Za-z0-9_'-](?:{word_list})\b")
    unit_alt = "|".join(re.escape(u) for u in sorted(units, key=len, reverse=True))
    tail = rf"(?:[ \t]?%|[kKMBx×](?!\w))?(?:[ \t]?(?:{unit_alt})(?!\w))?"
    # One leading class (then a lookbehind says which it was) lets the engine skip ahead.
    number = re.compile(
        rf"[$€£¥₹+\-0-9](?:(?<=[$€£¥₹])[ \t]?[+-]?{_NUM}|(?<=[+-]){_NUM}|(?<=[0-9]){_NUM_REST})"
        + tail
    )

    def negations(text: str, lo: int, hi: int) -> Iterator[Candidate]:
        first = words_at.match(text, lo, hi)
        if first:
            yield lo, first.end(), "negation"
        for match in words_after.finditer(text, first.end() if first else lo, hi):
            before = text[match.start()]
            if not (is_word(before) or before == "’"):  # a non-ASCII letter, or an apostrophe
                yield match.start() + 1, match.end(), "negation"
        if "n't" not in text and "n’t" not in text:
            return
        for match in _NT.finditer(text, lo, hi):
            start = match.start()
            while start > lo and text[start - 1].isalpha():
                start -= 1
            if start < match.start():
                yield start, match.end(), "negation"

    def numbers(text: str, lo: int, hi: int) -> Iterator[Candidate]:
        digit = _DIGIT.search(text, lo, hi)
        if digit is None:
            return
        # A number's first digit is at most three characters in ("$ -5"): nothing further
        # back can start one.
        for match in number.finditer(text, max(lo, digit.start() - 3), hi):
            start = match.start()
            if start == lo or not (is_word(text[start - 1]) or text[start - 1] == "."):
                yield start, match.end(), "number"

    return (
        _skip,
        _inline_code,
        _opaque,
        _placeholders,
        _urls,
        _emails,
        _paths,
        dates,
        negations,
        numbers,
        identifiers,
        _quoted,
    )


def find_inline(
    text: str,
    start: int,
    end: int,
    protected_words: frozenset[str],
    units: frozenset[str] = frozenset(),
) -> list[tuple[int, int, str]]:
    """Inline spans of ``text[start:end]`` as sorted, non-overlapping (start, end, kind)."""
    if start >= end:
        return []
    candidates: list[tuple[int, int, int, int, str]] = []
    for rank, detect in enumerate(_detectors(protected_words, units)):
        found = detect(text, start, end)
        candidates.extend((s, rank, -e, e, kind) for s, e, kind in found if e > s)
    candidates.sort()
    spans: list[tuple[int, int, str]] = []
    cursor = start
    for s, _, _, e, kind in candidates:
        if s < cursor:
            continue
        cursor = e
        if kind != "skip":
            spans.append((s, e, kind))
    return spans
