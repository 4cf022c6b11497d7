"""The optimizer's guarantees, property-based on generated prompts with protected spans.

* never more tokens than the input;
* optimizing twice changes nothing;
* every protected span comes back unchanged (JSON and tables: same parsed value);
* a concise prompt comes back unchanged, and no prompt is reworded: every word of the
  output is a word of the input or of a verbose phrase's short form.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workers.prompts import optimize
from workers.prompts.doc import mask
from workers.prompts.phrasebook import load_phrasebook
from workers.prompts.segments import doc_lines, doc_sentences, sentences, split_lines
from workers.prompts.spans import minify_table_text
from workers.tokens import count_tokens

BOOK = load_phrasebook()
PLAIN = (
    "deploy service cluster logs database report digest cost team check review latency "
    "budget agent queue worker model export import table index cache region backup alert "
    "owner ticket release metric schema"
).split()
FLUFF = [
    "please",
    "basically",
    "really",
    "very",
    "in order to",
    "due to the fact that",
    "please note that",
    "it is important that you",
    "I think",
    "a large number of",
    "make sure that you",
    "the majority of",
    "as well as",
    "at this point in time",
    "honestly",
    "kindly",
    "I would appreciate it if you could",
    "so basically,",
    "currently",
    "kind of",
    "the following",
    "for me",
    "which is located in",
    "Here is",
    "Also",
    "Again, please remember that",
]
PLEASANTRIES = [
    "Thank you so much!",
    "Hello!",
    "I hope you are doing well.",
    "Thanks in advance!",
    "I'm at a loss here and I'm stuck.",
    "I have a couple of questions.",
]
NEGATIONS = ["not", "never", "must", "should", "cannot", "don't", "must not", "only"]
SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
WORD = re.compile(r"[a-z]+")


@dataclass
class Generated:
    """A generated prompt and the protected pieces it must keep."""

    text: str
    spans: list[str] = field(default_factory=list)
    json_values: list[object] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)


word = st.sampled_from(PLAIN)
ident = st.builds(lambda a, b: f"{a}_{b}", word, word)
json_leaf = st.one_of(
    st.integers(-(10**6), 10**6), st.booleans(), st.none(), st.text("abc xyz", max_size=8)
)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=3),
        st.dictionaries(st.sampled_from(PLAIN), inner, min_size=1, max_size=3),
    ),
    max_leaves=8,
).filter(lambda v: isinstance(v, dict | list) and bool(v))

inline_span = st.one_of(
    st.builds(lambda n: f"{n} ms", st.integers(0, 99999)),
    st.builds(lambda n: f"${n:,}", st.integers(1000, 10**7)),
    st.builds(lambda n: f"{n}%", st.integers(0, 100)),
    st.builds(lambda i: f"`{i}`", ident),
    st.builds(lambda w, n: f"https://example.com/{w}/{n}", word, st.integers(0, 999)),
    st.builds(lambda w: f"{w}@example.org", word),
    st.builds(lambda a, b: f"/var/{a}/{b}.log", word, word),
    st.builds(lambda w: "{" + w + "}", word),
    st.builds(lambda w: "{{" + w + "}}", word),
    st.builds(
        lambda ws: '"' + " ".join(ws) + '"',
        st.lists(st.sampled_from(PLAIN + FLUFF), min_size=1, max_size=4),
    ),
    st.sampled_from(NEGATIONS),
    st.sampled_from(["2024-05-14", "10:30 UTC", "March 3rd, 2025"]),
    ident,
)


@st.composite
def sentence(draw: st.DrawFn, out: Generated, fluff: bool) -> str:
    parts: list[str] = []
    for _ in range(draw(st.integers(2, 9))):
        kind = draw(
            st.sampled_from(["word", "word", "span", "fluff"] if fluff else ["word", "span"])
        )
        if kind == "span":
            span = draw(inline_span)
            out.spans.append(span)
            parts.append(span)
        elif kind == "fluff":
            parts.append(draw(st.sampled_from(FLUFF)))
        else:
            parts.append(draw(word))
    parts.insert(0, draw(word).capitalize())
    return " ".join(parts) + "."


@st.composite
def block(draw: st.DrawFn, out: Generated) -> str:
    kind = draw(st.sampled_from(["code", "json", "table"]))
    if kind == "code":
        lines = draw(st.lists(st.sampled_from(PLAIN + FLUFF), min_size=1, max_size=4))
        text = "```\n" + "\n".join(f"  {line}   x = 1" for line in lines) + "\n```"
        out.spans.append(text)
        return text
    if kind == "json":
        value = draw(json_value)
        out.json_values.append(value)
        return json.dumps(value, indent=draw(st.sampled_from([2, 4])), ensure_ascii=False)
    rows = draw(st.lists(st.tuples(word, st.integers(0, 999)), min_size=1, max_size=3))
    text = "| name | value |\n|------|-------|\n" + "\n".join(f"| {w} | {n}   |" for w, n in rows)
    out.tables.append(text)
    return text


@st.composite
def prompts(draw: st.DrawFn) -> Generated:
    out = Generated("")
    paragraphs: list[str] = []
    for _ in range(draw(st.integers(1, 5))):
        choice = draw(st.sampled_from(["prose", "prose", "block", "repeat", "polite"]))
        if choice == "block":
            paragraphs.append(draw(block(out)))
        elif choice == "repeat" and paragraphs:
            paragraphs.append(draw(st.sampled_from(paragraphs)))
        elif choice == "polite":
            paragraphs.append(draw(st.sampled_from(PLEASANTRIES)))
        else:
            sentences = [draw(sentence(out, fluff=True)) for _ in range(draw(st.integers(1, 4)))]
            if len(sentences) > 1 and draw(st.booleans()):
                sentences.append(sentences[0])
            paragraphs.append(" ".join(sentences))
    out.text = "\n\n".join(paragraphs)
    return out


@st.composite
def concise_prompts(draw: st.DrawFn) -> Generated:
    out = Generated("")
    starts = draw(st.lists(word, min_size=1, max_size=6, unique=True))
    sentences = []
    for first in starts:
        rest = draw(sentence(out, fluff=False))
        sentences.append(first.capitalize() + " " + rest[0].lower() + rest[1:])
    out.text = " ".join(sentences)
    return out


def _json_kept(text: str, value: object) -> bool:
    compact = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return compact in text


@SETTINGS
@given(prompts())
def test_never_more_tokens(gen: Generated) -> None:
    result = optimize(gen.text, model="gpt-4o")
    assert result.optimized_tokens <= result.original_tokens
    assert result.original_tokens == count_tokens(gen.text, "gpt-4o")
    assert result.optimized_tokens == count_tokens(result.optimized, "gpt-4o")


@SETTINGS
@given(prompts())
def test_optimizing_twice_changes_nothing(gen: Generated) -> None:
    once = optimize(gen.text).optimized
    assert optimize(once).optimized == once


@SETTINGS
@given(prompts())
def test_protected_spans_come_back_unchanged(gen: Generated) -> None:
    result = optimize(gen.text)
    for span in gen.spans:
        assert span in result.optimized, span
    for value in gen.json_values:
        assert _json_kept(result.optimized, value), value
    for table in gen.tables:
        assert table in result.optimized or minify_table_text(table) in result.optimized
    assert result.protected_retention == 1.0
    assert 0.0 <= result.quality <= 1.0


@SETTINGS
@given(concise_prompts())
def test_concise_prompt_comes_back_unchanged(gen: Generated) -> None:
    assert optimize(gen.text).optimized == gen.text


def test_concise_vocabulary_is_outside_the_phrase_lists() -> None:
    assert not set(PLAIN) & BOOK.vocabulary


SHORT_FORMS = {
    w
    for v in [*BOOK.verbose_map.values(), *("|".join(f) for f in BOOK.pointer_forms.values())]
    for w in WORD.findall(v.lower())
}


@SETTINGS
@given(prompts())
def test_no_prompt_is_reworded(gen: Generated) -> None:
    before = set(WORD.findall(gen.text.lower()))
    after = set(WORD.findall(optimize(gen.text).optimized.lower()))
    assert after <= before | SHORT_FORMS, after - before


@SETTINGS
@given(prompts(), prompts())
def test_paragraph_cache_changes_nothing(a: Generated, b: Generated) -> None:
    """The cache that makes re-segmenting cheap is invisible in results."""
    for text in (a.text, b.text, a.text + "\n\n" + b.text):
        doc = mask(text, BOOK)
        assert doc_lines(doc) == split_lines(doc.text)
        assert doc_sentences(doc) == sentences(doc, split_lines(doc.text))
