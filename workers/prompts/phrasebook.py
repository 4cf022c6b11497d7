"""A language's phrase lists (``data/<lang>.json``) compiled into the regexes passes use."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from workers.errors import ConfigError, UnknownName
from workers.prompts.phrases import (
    anchors,
    capital_i,
    expand_optional,
    heads,
    normalize_phrase,
    phrase_regex,
    with_union,
    with_unions,
)

#: Language of the phrase lists used when the caller names none.
DEFAULT_LANGUAGE = "en"
_WORD = re.compile(r"[a-z]+(?:['’][a-z]+)?")


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
    #: Sentence starts that announce a repetition ("Again,", "As I said,").
    repetitions: re.Pattern[str]
    #: Sentence starts that only introduce what follows a colon ("Here is the log:").
    introducers: re.Pattern[str]
    #: Sentence ends that only present what follows a colon ("... looks like this:").
    presenters: re.Pattern[str]
    #: Phrases pointing at what follows that "this" or "these" can replace ("the following").
    pointers: re.Pattern[str]
    #: Each pointer's (singular, plural) short forms.
    pointer_forms: dict[str, tuple[str, ...]]
    #: Nouns a sentence that only announces what follows names ("here is some context").
    announced: frozenset[str]
    #: Sentence-opening connectives ("Also,") after which an opener may still follow.
    discourse: re.Pattern[str]
    #: Negating words (a subset of ``protected_words``): they reverse what follows.
    negations: frozenset[str]
    #: Words that, after a negation, only widen it: "do not X or Y" says "do not X".
    widening_joints: frozenset[str]
    #: Word sequences that make an addition a condition or an alternative: "cite sources if
    #: asked" does not say "cite sources" (see ``subsumption``).
    narrowing_joints: tuple[tuple[str, ...], ...]
    #: Words naming a time unit: "the following week" means the next one.
    time_words: frozenset[str]
    #: Number words from two up: they make the noun after them plural.
    number_words: frozenset[str]
    #: Irregular past participles ("built", "written"); "-ed" words count without a list.
    participles: frozenset[str]
    #: Prepositions of place or time a shortened relative clause may keep ("which is from").
    places: frozenset[str]
    #: Verbs after which "that" opens a clause, not a relative one ("ensure that ...").
    clause_verbs: frozenset[str]
    #: Conjunctions after a comma that may precede a request: "..., so please check it".
    lead_conjunctions: frozenset[str]
    #: Conjunctions opening a reason clause ("because"): "A, because B." also states "A".
    reasons: re.Pattern[str]
    #: Whole sentences that are pure boilerplate ("You are a helpful assistant.").
    boilerplate: frozenset[str]
    #: Clauses about the writer that carry no task ("I'm at a loss", "so be patient with
    #: me"), as lower-case words joined by spaces; ``asides`` drops them.
    asides: frozenset[str]
    #: Finds any word a pleasantry or boilerplate sentence needs (a cheap first check).
    pleasantry_probe: re.Pattern[str]
    #: Finds the anchor word of each aside: a sentence without one holds no aside.
    aside_probe: re.Pattern[str]
    #: A cheap first check on lower-case text: a tail right before a full stop or colon.
    tail_quick: re.Pattern[str]
    #: Words that end a sentence without adding to it ("for me", "as well").
    tails: re.Pattern[str]
    #: Tails that only a request may lose ("Review this for me." but "It is hard for me.").
    request_tails: frozenset[str]
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
    #: First words of the phrases of each list by name: a phrase can only start at a word
    #: in this set (see ``head_word``), a test much cheaper than trying the regex.
    heads: dict[str, frozenset[str]]
    #: For each phrase list, one word per phrase that every spelling of it contains (the
    #: longest): no anchor in a text, no match (see ``Doc.mentions``).
    anchors: dict[str, frozenset[str]]

    def replacement(self, matched: str, next_word: str) -> str:
        """The short form of a matched verbose phrase.

        An entry may give two forms, ``"many|many of"``: the second is used before a
        determiner ("many of our instances"), the first elsewhere ("many instances").
        """
        short = self.verbose_map[normalize_phrase(matched)]
        plain, _, before_determiner = short.partition("|")
        if before_determiner and next_word.lower() in self.determiners:
            return capital_i(before_determiner)
        return capital_i(plain)


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
        for key in (
            "fillers",
            "openers",
            "hedges",
            "discourse_markers",
            "introducers",
            "presenters",
            "repetition_markers",
            "tails",
            "request_tails",
        )
    }
    boilerplate = [v for p in data["boilerplate_sentences"] for v in expand_optional(p.lower())]
    asides = [v for p in data["aside_clauses"] for v in expand_optional(normalize_phrase(p))]
    pointers: dict[str, str] = data["pointers"]
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
            boilerplate,
            asides,
            list(pointers),
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
        introducers=phrase_regex(lists["introducers"]),
        presenters=phrase_regex(lists["presenters"]),
        pointers=phrase_regex([normalize_phrase(p) for p in pointers]),
        pointer_forms={normalize_phrase(k): tuple(v.split("|")) for k, v in pointers.items()},
        tails=phrase_regex([*lists["tails"], *lists["request_tails"]]),
        request_tails=frozenset(lists["request_tails"]),
        announced=lower("announced"),
        repetitions=phrase_regex(lists["repetition_markers"]),
        discourse=phrase_regex(lists["discourse_markers"]),
        negations=lower("negations"),
        widening_joints=lower("widening_joints"),
        narrowing_joints=tuple(
            tuple(normalize_phrase(p).split()) for p in data["narrowing_joints"]
        ),
        time_words=lower("time_words"),
        number_words=lower("number_words"),
        participles=lower("participles"),
        places=lower("places"),
        clause_verbs=lower("clause_verbs"),
        lead_conjunctions=lower("lead_conjunctions"),
        reasons=phrase_regex(data["reason_markers"]),
        boilerplate=frozenset(normalize_phrase(p) for p in boilerplate),
        asides=frozenset(" ".join(_WORD.findall(phrase)) for phrase in asides),
        aside_probe=phrase_regex(sorted(anchors(data["aside_clauses"]))),
        tail_quick=re.compile(
            "(?:"
            + "|".join(
                r"\s+".join(re.escape(w) for w in phrase.split())
                for phrase in [*lists["tails"], *lists["request_tails"]]
            )
            + r")[ \t]*[.:!?]"
        ),
        pleasantry_probe=phrase_regex(
            [normalize_phrase(w) for w in data["pleasantry_anchors"]]
            + [normalize_phrase(p).split()[-1] for p in boilerplate]
        ),
        verbose=phrase_regex(list(verbose)),
        verbose_map=verbose,
        vocabulary=frozenset(phrase_words) - lower("protected_words"),
        determiners=lower("determiners"),
        imperative_blockers=lower("imperative_blockers"),
        opener_verb_words=lower("opener_verb_words"),
        question_openers=lower("question_openers"),
        lists={name: tuple(phrases) for name, phrases in lists.items()},
        heads=with_union(
            {name: heads(phrases) for name, phrases in lists.items()},
            "opener_starts",
            ("openers", "fillers", "discourse_markers"),
        ),
        anchors=with_unions(
            {
                **{name: anchors(data[name]) for name in lists},
                "asides": anchors(data["aside_clauses"]),
                "pointers": anchors(list(pointers)),
            }
        ),
    )
