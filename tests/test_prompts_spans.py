"""Protected-span detection: every kind is found whole, and masking round-trips exactly."""

from __future__ import annotations

import itertools
import json

import pytest

from workers.prompts.doc import mask, signature
from workers.prompts.phrasebook import load_phrasebook
from workers.prompts.spans import SpanKind, detect, minify_json_text, minify_table_text

BOOK = load_phrasebook()


def spans_of(text: str) -> list[tuple[str, SpanKind]]:
    return [(text[s:e], k) for s, e, k in detect(text, BOOK.protected_words, BOOK.units)]


@pytest.mark.parametrize(
    ("text", "expected", "kind"),
    [
        ("Run `make test` now.", "`make test`", SpanKind.INLINE_CODE),
        ("Hello {customer_name}, hi.", "{customer_name}", SpanKind.PLACEHOLDER),
        ("Use {{ $labels.instance }} here.", "{{ $labels.instance }}", SpanKind.PLACEHOLDER),
        ("Set ${DB_URL} first.", "${DB_URL}", SpanKind.PLACEHOLDER),
        ("Theme: <theme> ok", "<theme>", SpanKind.PLACEHOLDER),
        ("See https://example.com/a/b?x=1.", "https://example.com/a/b?x=1", SpanKind.URL),
        ("Mail ops@acme.io today.", "ops@acme.io", SpanKind.EMAIL),
        ("Edit /etc/nginx/nginx.conf now.", "/etc/nginx/nginx.conf", SpanKind.PATH),
        ("Open config/flags.yaml.", "config/flags.yaml", SpanKind.PATH),
        ('She said "do it quickly" twice.', '"do it quickly"', SpanKind.QUOTED),
        ("Starts 2024-05-14T09:12:03Z exactly.", "2024-05-14T09:12:03Z", SpanKind.DATETIME),
        ("Meet at 10:30 UTC please.", "10:30 UTC", SpanKind.DATETIME),
        ("Due March 3rd, 2025 at noon.", "March 3rd, 2025", SpanKind.DATETIME),
        ("Costs $18,000 per month.", "$18,000", SpanKind.NUMBER),
        ("Latency is 850 ms at peak.", "850 ms", SpanKind.NUMBER),
        ("Growth of +6% this month.", "+6%", SpanKind.NUMBER),
        ("Call model_prediction_latency today.", "model_prediction_latency", SpanKind.IDENTIFIER),
        ("Deploy to us-east-1 now.", "us-east-1", SpanKind.IDENTIFIER),
        ("Use gpt-4o-mini for it.", "gpt-4o-mini", SpanKind.IDENTIFIER),
        ("Pass --data-path to it.", "--data-path", SpanKind.IDENTIFIER),
        (
            "Read arn:aws:s3:::acme-invoices only.",
            "arn:aws:s3:::acme-invoices",
            SpanKind.IDENTIFIER,
        ),
        ("You must not do that.", "must", SpanKind.NEGATION),
        ("We don't want that.", "don't", SpanKind.NEGATION),
        ("Never skip tests.", "Never", SpanKind.NEGATION),
    ],
)
def test_inline_span_found_whole(text: str, expected: str, kind: SpanKind) -> None:
    assert (expected, kind) in spans_of(text)


def test_negations_and_modals_are_protected() -> None:
    found = {s for s, kind in spans_of("You should not and must never, unless told; can't.")}
    assert {"should", "not", "must", "never", "unless", "can't"} <= found


def test_fenced_code_is_one_block_with_fences() -> None:
    text = "Look:\n\n```python\nprint('please note that')  # basically\n```\n\nDone."
    blocks = [(s, k) for s, k in spans_of(text) if k is SpanKind.CODE]
    assert blocks == [("```python\nprint('please note that')  # basically\n```", SpanKind.CODE)]


def test_unclosed_fence_runs_to_the_end() -> None:
    text = "Intro.\n\n```\nline one\nline two"
    assert spans_of(text)[-1] == ("```\nline one\nline two", SpanKind.CODE)


def test_indented_code_needs_a_blank_line_before_it() -> None:
    text = "Run this:\n\n    docker run -p 8080:8080 app\n\nThen wait."
    assert ("    docker run -p 8080:8080 app", SpanKind.CODE) in spans_of(text)


def test_json_blocks_and_fenced_json() -> None:
    bare = 'Report:\n{\n  "psi": 0.31,\n  "ok": true\n}\nEnd.'
    assert ('{\n  "psi": 0.31,\n  "ok": true\n}', SpanKind.JSON) in spans_of(bare)
    fenced = '```json\n{"a": [1, 2]}\n```'
    assert spans_of(fenced) == [(fenced, SpanKind.JSON)]


def test_yaml_table_and_log_blocks() -> None:
    yaml_text = "Config:\nresources:\n  limits:\n    memory: 2Gi\nNext line here."
    assert ("resources:\n  limits:\n    memory: 2Gi", SpanKind.YAML) in spans_of(yaml_text)
    table = "| a | b |\n|---|---|\n| 1 | 2 |"
    assert spans_of(table) == [(table, SpanKind.TABLE)]
    log = "2024-05-14 09:12:03 ERROR boom\n2024-05-14 09:12:04 INFO ok"
    assert spans_of(log) == [(log, SpanKind.LOG)]


def test_aligned_columns_are_kept_verbatim() -> None:
    text = "NAME        READY   STATUS\napi-1       1/1     Running"
    assert spans_of(text) == [(text, SpanKind.CODE)]


def test_list_markers_and_example_numbers_are_not_protected() -> None:
    found = [s for s, _ in spans_of("1. First item\n2. Second\nExample 3:\nfoo")]
    assert "1" not in found and "2" not in found and "3" not in found


def test_spans_never_overlap_and_mask_round_trips() -> None:
    text = (
        'Please note: `x` costs $5 at https://a.io/x, see "quoted {name}" and '
        "never 2024-01-01.\n\n```\ncode\n```\n| t | u |\n"
    )
    found = detect(text, BOOK.protected_words, BOOK.units)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(found))
    doc = mask(text, BOOK)
    assert doc.restore() == text
    assert signature(mask(doc.restore(), BOOK)) == signature(doc)


def test_private_use_characters_in_input_are_protected() -> None:
    text = "odd \U000f0001 char"
    doc = mask(text, BOOK)
    assert doc.restore() == text
    assert [s.kind for s in doc.spans] == [SpanKind.OPAQUE]


def test_minify_json_keeps_literals_and_value() -> None:
    text = '{\n  "a": "x  y",\n  "b": [1.50, 2e3],\n  "a": null\n}'
    minified = minify_json_text(text)
    assert minified == '{"a":"x  y","b":[1.50,2e3],"a":null}'
    assert json.loads(minified) == json.loads(text)


def test_minify_json_leaves_invalid_json_alone() -> None:
    assert minify_json_text('{"a": 1,,}') == '{"a": 1,,}'


def test_minify_table_keeps_cells() -> None:
    table = "| Quarter | Hires |\n|:--------|------:|\n| Q1 2025 | 10    |"
    assert minify_table_text(table) == "|Quarter|Hires|\n|:---|---:|\n|Q1 2025|10|"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("énot here", []),
        ("don’no way", []),
        ("(not) now", [("not", SpanKind.NEGATION)]),
        ("He can’t, won't", [("can’t", SpanKind.NEGATION), ("won't", SpanKind.NEGATION)]),
        ("US$5 and $5", [("US", SpanKind.IDENTIFIER), ("$5", SpanKind.NUMBER)]),
        ("x3 March 2025", [("x3", SpanKind.IDENTIFIER), ("March 2025", SpanKind.DATETIME)]),
        ("Section 3 starts Q1 2024", [("3", SpanKind.NUMBER), ("Q1 2024", SpanKind.DATETIME)]),
        (
            "On 2024-05-14 10:30 UTC",
            [("2024-05-14 10:30", SpanKind.DATETIME), ("UTC", SpanKind.IDENTIFIER)],
        ),
        (
            "Copy C:\\tmp\\a.txt to D:\\b",
            [("C:\\tmp\\a.txt", SpanKind.PATH), ("D:\\b", SpanKind.PATH)],
        ),
        (
            "See www.acme.io or https://x.org/a.",
            [("www.acme.io", SpanKind.URL), ("https://x.org/a", SpanKind.URL)],
        ),
    ],
)
def test_token_boundaries_decide_inline_spans(
    text: str, expected: list[tuple[str, SpanKind]]
) -> None:
    """A word, number or date counts only where a token starts; the mark that opens a path or
    URL is found wherever it sits."""
    assert spans_of(text) == expected
