"""The pipeline's machinery: sweeps and their token guard, exact counting, shortcuts
that avoid work (sentence-start test, shared keys, anchors) and what they must equal."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.test_prompts_guarantees import SETTINGS, Generated, prompts
from workers.prompts.counting import TokenCounter
from workers.prompts.doc import Doc, mask
from workers.prompts.examples import paragraphs
from workers.prompts.optimizer import _run
from workers.prompts.passes import PassContext, resolve
from workers.prompts.phrasebook import load_phrasebook
from workers.prompts.segments import (
    doc_lines,
    doc_sentences,
    is_sentence_start,
    sentence_heads,
    sentence_starts,
)
from workers.prompts.similarity import key, range_key
from workers.prompts.subsumption import implied
from workers.prompts.sweeps import Sweeper
from workers.tokens import count_tokens

BOOK = load_phrasebook()


@dataclass
class Replace:
    """A test pass: replaces one substring (so it can grow or shrink the prompt)."""

    name: str
    old: str
    new: str
    calls: int = 0

    def apply(self, doc: Doc, ctx: PassContext) -> Doc:
        self.calls += 1
        if self.old not in doc.text:
            return doc
        return doc.with_text(doc.text.replace(self.old, self.new))


def _optimize(text: str, passes: list[Replace]) -> tuple[str, list[str]]:
    counter = TokenCounter("gpt-4o-mini")
    ctx = PassContext(BOOK)
    out, fired, _, _, tokens = _run(text, counter(text), passes, ctx, counter)  # type: ignore[arg-type]
    assert tokens == count_tokens(out, "gpt-4o-mini")
    return out, fired


def test_a_sweep_that_shrinks_is_kept_whole() -> None:
    out, fired = _optimize(
        "alpha beta gamma delta", [Replace("a", "beta ", ""), Replace("b", "gamma ", "")]
    )
    assert out == "alpha delta" and fired == ["a", "b"]


def test_a_sweep_that_grows_is_replayed_pass_by_pass() -> None:
    grow = Replace("grow", "delta", "delta epsilon zeta eta theta iota kappa")
    out, fired = _optimize("alpha beta gamma delta", [Replace("shrink", "beta ", ""), grow])
    assert out == "alpha gamma delta" and fired == ["shrink"]


def test_a_pass_is_not_rerun_on_a_doc_it_left_unchanged() -> None:
    idle = Replace("idle", "absent", "")
    sweeper = Sweeper([idle], PassContext(BOOK))  # type: ignore[list-item]
    doc = mask("some text here", BOOK)
    assert sweeper.sweep(doc) == (doc, []) and sweeper.sweep(doc) == (doc, [])
    assert idle.calls == 1
    sweeper.forget()
    sweeper.sweep(doc)
    assert idle.calls == 2


def test_counter_first_call_and_edits_match_tiktoken() -> None:
    text = "First sentence. Second one here.\n\nA new paragraph. And ```code```\n\nEnd."
    counter = TokenCounter("gpt-4o-mini")
    assert counter(text) == count_tokens(text, "gpt-4o-mini")
    for edited in (text.replace("Second one ", ""), text + " More.", "Other. " + text):
        assert counter(edited) == count_tokens(edited, "gpt-4o-mini")


@SETTINGS
@given(prompts())
def test_sentence_start_shortcut_agrees_with_segmentation(gen: Generated) -> None:
    doc = mask(gen.text, BOOK)
    starts = sentence_starts(doc)
    fresh = mask(gen.text, BOOK)  # asks before segmenting: the shortcut path runs first
    for pos in range(len(doc.text)):
        assert is_sentence_start(fresh, pos) == (pos in starts)
    heads = sentence_heads(doc)
    assert set(heads) == set(starts)


@SETTINGS
@given(prompts())
def test_range_keys_join_sentence_keys_exactly(gen: Generated) -> None:
    doc = mask(gen.text, BOOK)
    lines = doc_lines(doc)
    cache: dict[str, tuple[str, ...]] = {}
    for para in paragraphs(lines):
        start, end = lines[para.first].start, lines[para.last].end
        assert range_key(doc, start, end, BOOK, cache) == key(doc, doc.text[start:end], BOOK)
    assert all(doc.text[s.start : s.end] in cache for s in doc_sentences(doc))


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="abcXYZ é'’-\n.\U000f0001", max_size=40))
def test_ascii_words_and_mentions(text: str) -> None:
    doc = Doc(text, ())
    assert doc.ascii_words() == all(ch.isascii() or ord(ch) >= 0xF0000 for ch in text)
    assert doc.lowered() == text.lower()
    assert doc.mentions(frozenset({"abc"})) == ("abc" in text.lower())


def test_implied_needs_a_widening_or_a_plain_addition() -> None:
    def k(*words: str) -> tuple[str, ...]:
        return tuple(words)

    assert implied(k("cite", "sources"), k("cite", "sources", "with", "url"), BOOK)
    assert implied(
        k("do", "\x00not", "share", "keys"), k("do", "\x00not", "share", "keys", "or", "ids"), BOOK
    )
    assert not implied(
        k("do", "\x00not", "deploy"), k("do", "\x00not", "deploy", "on", "fridays"), BOOK
    )
    assert not implied(k("use", "python"), k("use", "python", "or", "go"), BOOK)
    assert not implied(k("cite", "sources"), k("cite", "sources", "if", "asked"), BOOK)
    assert not implied(k("cite", "sources"), k("cite", "sources", "\x00only", "quotes"), BOOK)
    assert not implied(k("cite", "sources"), k("cite", "sources"), BOOK)


def test_phrases_match_the_pronoun_i_as_written() -> None:
    assert BOOK.openers.match("As I said, keep it short").group() == "As I said,"
    assert BOOK.hedges.search("but I think it might").group() == "I think"
    assert BOOK.replacement("what i need is", "a") == "I need"


def test_anchors_are_words_every_spelling_holds() -> None:
    for phrase in BOOK.lists["introducers"]:
        assert any(anchor in phrase for anchor in BOOK.anchors["introducers"])
    for anchor in BOOK.anchors["asides"]:
        assert anchor.isalpha()  # the aside probe matches whole words
    assert "" not in BOOK.anchors["hedges"]
    assert BOOK.heads["opener_starts"] >= BOOK.heads["openers"] | BOOK.heads["fillers"]


def test_all_default_passes_resolve_in_order() -> None:
    names = [p.name for p in resolve()]
    assert names.index("asides") < names.index("openers") < names.index("verbose")
    assert names[-1] == "fold_openers"
