"""A language's phrase lists (``data/<lang>.json``) compiled into the regexes passes use."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from workers.errors import ConfigError, UnknownName
from workers.prompts.trie import trie_pattern

#: Language of the phrase lists used when the caller names none.
DEFAULT_LANGUAGE = "en"
_WORD = re.compile(r"[a-z]+(?:['’][a-z]+)?")
_SEPARATOR = r"(?:[ \t]*\n[ \t]*|[ \t]+)"
_APOSTROPHE = "['’]"
_WORD_END = r"(?![\w'’-])"
_PART = re.compile(r"\[([^\]]+)\]|(\S+)")


@dataclass(frozen=True)
class Phrasebook:
    """Compiled phrase lists of one language; see ``data/en.json`` for what each list means."""

    language: str
    protected_words: frozenset[str]
    units: frozenset[str]
    stopwords: frozenset[str]
    ignorable: frozenset[str]
    intensifiers: frozenset[str]
    uncertainty: frozenset[str]
    pleasantry_anchors: frozenset[str]
    pleasantry_words: frozenset[str]
    fillers: re.Pattern[str]
    openers: re.Pattern[str]
    hedges: re.Pattern[str]
    #: Sentence-opening connectives ("Also,") after which an opener may still follow.
    discourse: re.Pattern[str]
    #: Conjunctions opening a reason clause ("because"): "A, because B." also states "A".
    reasons: re.Pattern[str]
    #: Whole sentences that are pure boilerplate ("You are a helpful assistant.").
    boilerplate: frozenset[str]
    #: Finds any word a pleasantry or boilerplate sentence needs (a cheap first check).
    pleasantry_probe: re.Pattern[str]
    verbose: re.Pattern[str]
    verbose_map: dict[str, str]
    vocabulary: frozenset[str]
    determiners: frozenset[str]
    imperative_blockers: frozenset[str]
    opener_verb_words: frozenset[str]
    #: Openers that make a request a question ("could you"): without them, "?" becomes ".".
    question_openers: frozenset[str]
    #: The raw phrase lists by name ("fillers", "openers", "hedges"), lower-case.
    lists: dict[str, tuple[str, ...]]

    def replacement(self, matched: str, next_word: str) -> str:
        """The short form of a matched verbose phrase.

        An entry may give two forms, ``"many|many of"``: the second is used before a
        determiner ("many of our instances"), the first elsewhere ("many instances").
        """
        short = self.verbose_map[normalize_phrase(matched)]
        plain, _, before_determiner = short.partition("|")
        if before_determiner and next_word.lower() in self.determiners:
            return before_determiner
        return plain


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
        for variant in {phrase, phrase[:1].upper() + phrase[1:], phrase.upper()}:
            atoms: list[str] = []
            for n, word in enumerate(variant.split()):
                if n:
                    atoms.append(_SEPARATOR)
                atoms.extend(_APOSTROPHE if ch in "'’" else re.escape(ch) for ch in word)
            if phrase[-1].isalnum():
                atoms.append(_WORD_END)
            alternatives.append(atoms)
    return re.compile(r"(?<![\w'’-])" + trie_pattern(alternatives))


def languages() -> list[str]:
    """Languages that have a phrase-list file."""
    folder = resources.files("workers.prompts").joinpath("data")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".json"))


@lru_cache(maxsize=8)
def load_phrasebook(language: str = DEFAULT_LANGUAGE) -> Phrasebook:
    """Load and compile ``data/<language>.json``; unknown languages list the known ones."""
    known = languages()
    if language not in known:
        raise UnknownName(f"unknown prompt language {language!r}; known: {', '.join(known)}")
    folder = resources.files("workers.prompts").joinpath("data")
    raw = folder.joinpath(f"{language}.json").read_text(encoding="utf-8")
    try:
        data = json.loads(raw)
        return _compile(language, data)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"phrase lists data/{language}.json are invalid: {exc}") from None


def _compile(language: str, data: dict) -> Phrasebook:
    lists = {
        key: [v for p in data[key] for v in expand_optional(normalize_phrase(p))]
        for key in ("fillers", "openers", "hedges", "discourse_markers")
    }
    verbose = {normalize_phrase(k): v for k, v in data["verbose"].items()}
    for phrase, short in data.get("verbose_optional", {}).items():
        verbose.update((spelling, short) for spelling in expand_optional(normalize_phrase(phrase)))
    if any(v.count("|") > 1 for v in verbose.values()):
        raise ValueError("a verbose entry has more than two forms")
    phrase_words = {
        word
        for phrases in [
            *lists.values(),
            list(verbose),
            data["pleasantry_words"],
            data["pleasantry_anchors"],
            data["boilerplate_sentences"],
        ]
        for phrase in phrases
        for word in _WORD.findall(phrase)
    }
    lower = lambda key: frozenset(normalize_phrase(w) for w in data[key])  # noqa: E731
    return Phrasebook(
        language=language,
        protected_words=lower("protected_words"),
        units=frozenset(data["units"]),
        stopwords=lower("stopwords"),
        ignorable=lower("ignorable"),
        intensifiers=lower("intensifiers"),
        uncertainty=lower("uncertainty"),
        pleasantry_anchors=lower("pleasantry_anchors"),
        pleasantry_words=lower("pleasantry_words") | lower("pleasantry_anchors"),
        fillers=phrase_regex(lists["fillers"]),
        openers=phrase_regex(lists["openers"]),
        hedges=phrase_regex(lists["hedges"]),
        discourse=phrase_regex(lists["discourse_markers"]),
        reasons=phrase_regex(data["reason_markers"]),
        boilerplate=frozenset(normalize_phrase(p) for p in data["boilerplate_sentences"]),
        pleasantry_probe=phrase_regex(
            [normalize_phrase(w) for w in data["pleasantry_anchors"]]
            + [normalize_phrase(p).split()[-1] for p in data["boilerplate_sentences"]]
        ),
        verbose=phrase_regex(list(verbose)),
        verbose_map=verbose,
        vocabulary=frozenset(phrase_words) - lower("protected_words"),
        determiners=lower("determiners"),
        imperative_blockers=lower("imperative_blockers"),
        opener_verb_words=lower("opener_verb_words"),
        question_openers=lower("question_openers"),
        lists={name: tuple(phrases) for name, phrases in lists.items()},
    )
