"""The phrase lists: loadable, consistent, and every shortening actually saves tokens."""

from __future__ import annotations

import pytest

from workers.errors import UnknownName
from workers.prompts.phrasebook import languages, load_phrasebook
from workers.tokens import count_tokens

BOOK = load_phrasebook("en")


def test_languages_and_unknown_language() -> None:
    assert "en" in languages()
    with pytest.raises(UnknownName, match="known: en"):
        load_phrasebook("xx")


@pytest.mark.parametrize("model", ["gpt-4o-mini", "gpt-4.1"])
def test_every_verbose_entry_saves_tokens(model: str) -> None:
    for phrase, short in BOOK.verbose_map.items():
        for form in short.split("|"):
            before = count_tokens(f"We {phrase} the plan", model)
            after = count_tokens(f"We {form} the plan".replace("  ", " "), model)
            assert after < before, (phrase, form)


def test_no_phrase_contains_a_protected_word() -> None:
    """Passes never see protected words, so a phrase holding one could never match."""
    phrases = list(BOOK.verbose_map) + [p for ps in BOOK.lists.values() for p in ps]
    assert len(phrases) > 100
    for phrase in phrases:
        words = {w.strip(",:!") for w in phrase.split()}
        assert not words & BOOK.protected_words, phrase
        assert phrase == phrase.lower()


def test_phrase_regexes_prefer_the_longest_phrase() -> None:
    assert BOOK.openers.match("Please note that we ship").group() == "Please note that"
    assert BOOK.verbose.search("due to the fact that x").group() == "due to the fact that"
    assert BOOK.fillers.search("pleased") is None


def test_replacement_picks_the_form_for_determiners() -> None:
    assert BOOK.replacement("a large number of", "our") == "many of"
    assert BOOK.replacement("A large number of", "jobs") == "many"
