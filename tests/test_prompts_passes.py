"""Each optimizer pass on its own (run alone through the pipeline, with its token guard)."""

from __future__ import annotations

import json

import pytest

from workers.errors import UnknownName
from workers.prompts import optimize
from workers.prompts.passes import DEFAULT_PASSES, REGISTRY, resolve


def run(name: str, text: str, **options: object) -> str:
    return optimize(text, passes=[name], **options).optimized  # type: ignore[arg-type]


def test_registry_order_and_unknown_names() -> None:
    assert list(DEFAULT_PASSES) == list(REGISTRY)
    assert [p.name for p in resolve(["verbose", "unicode"])] == ["unicode", "verbose"]
    with pytest.raises(UnknownName, match="known: minify_json, minify_tables"):
        resolve(["unicode", "nope"])


def test_unicode_normalizes_spaces_invisibles_and_quotes() -> None:
    text = "It\u2019s\u00a0fine\u200b to\u00a0go"
    assert run("unicode", text) == "It's fine to go"


def test_unicode_leaves_quoted_strings_alone() -> None:
    text = "Reply \u201cyes\u00a0or no\u201d only."
    assert "\u201cyes\u00a0or no\u201d" in run("unicode", text)


def test_whitespace_collapses_runs_but_keeps_indentation() -> None:
    text = "\n\nFirst   line.   \n\n\n\n  - nested item\n\tTabbed   text\n\n"
    assert run("whitespace", text) == "First line.\n\n  - nested item\n\tTabbed text"


def test_whitespace_never_touches_code() -> None:
    text = "Run:\n\n```\na    =    1\n```"
    assert run("whitespace", text) == text


def test_dedupe_sentences_drops_later_copies() -> None:
    text = (
        "Always cite your sources carefully. Use tables. "
        "Please always cite your sources carefully! Keep it short."
    )
    assert run("dedupe_sentences", text) == (
        "Always cite your sources carefully. Use tables. Keep it short."
    )


def test_dedupe_sentences_keeps_near_duplicates_that_differ_in_a_word() -> None:
    text = "Copy the logs to the bucket. Copy the logs from the bucket."
    assert run("dedupe_sentences", text) == text


def test_dedupe_sentences_drops_repeated_list_items_and_renumbers() -> None:
    text = "1. Check the quota first.\n2. Check the quota first.\n3. Open a ticket now."
    assert run("dedupe_sentences", text) == "1. Check the quota first.\n2. Open a ticket now."


def test_dedupe_sentences_keeps_short_repeated_statements() -> None:
    text = (
        "Case one: the disk filled up. The answer is yes. "
        "Case two: the CPU spiked. The answer is yes."
    )
    assert run("dedupe_sentences", text) == text


def test_dedupe_sentences_keeps_items_repeated_in_another_list() -> None:
    text = (
        "Before:\n- tcp 22 from 10.0.0.0/8\n- tcp 443 from 0.0.0.0/0\n\n"
        "After:\n- tcp 22 from 0.0.0.0/0\n- tcp 443 from 0.0.0.0/0"
    )
    assert run("dedupe_sentences", text) == text


def test_dedupe_sentences_drops_a_conjunction_of_earlier_sentences() -> None:
    text = (
        "You should never invent numbers. You should never name vendors. "
        "You should never invent numbers, and you should never name vendors."
    )
    out = run("dedupe_sentences", text)
    assert out == "You should never invent numbers. You should never name vendors."


def test_dedupe_sentences_leaves_record_fields_alone() -> None:
    text = "Log: disk full on node 3\nCategory: INFRA\n\nLog: timeout on rank 2\nCategory: INFRA"
    assert run("dedupe_sentences", text) == text


def test_dedupe_paragraphs_drops_a_repeated_intro_and_block() -> None:
    block = "Here is the error log:\n\n```\nERROR disk full\n```"
    text = f"{block}\n\nWhy does it fail?\n\n{block}"
    assert run("dedupe_paragraphs", text) == f"{block}\n\nWhy does it fail?"


def test_dedupe_paragraphs_keeps_a_lone_repeated_block() -> None:
    text = "First case:\n\n```\nx = 1\n```\n\nSecond case, different intro:\n\n```\nx = 1\n```"
    assert run("dedupe_paragraphs", text) == text


def test_dedupe_examples_drops_repeats_and_renumbers() -> None:
    text = (
        "Examples:\n\nExample 1:\nInput: red\nOutput: warm\n\n"
        "Example 2:\nInput: red\nOutput: warm\n\n"
        "Example 3:\nInput: blue\nOutput: cold\n\nNow answer."
    )
    assert run("dedupe_examples", text) == (
        "Examples:\n\nExample 1:\nInput: red\nOutput: warm\n\n"
        "Example 2:\nInput: blue\nOutput: cold\n\nNow answer."
    )


def test_dedupe_examples_handles_label_records() -> None:
    one = 'Log: "CUDA out of memory"\nCategory: OOM'
    two = 'Log: "NCCL timeout"\nCategory: INFRA'
    text = f"{one}\n\n{two}\n\n{one}\n\nClassify it."
    assert run("dedupe_examples", text) == f"{one}\n\n{two}\n\nClassify it."


def test_cap_examples_is_off_by_default_and_keeps_the_most_diverse() -> None:
    examples = [
        "Input: the red apple\nOutput: fruit",
        "Input: the red cherry\nOutput: fruit",
        "Input: a blue whale swims\nOutput: animal",
        "Input: the red plum\nOutput: fruit",
    ]
    text = "\n\n".join(examples) + "\n\nInput: {query}\nOutput:"
    assert run("cap_examples", text) == text
    capped = run("cap_examples", text, max_examples=2)
    assert capped == "\n\n".join([examples[0], examples[2]]) + "\n\nInput: {query}\nOutput:"


def test_pleasantries_drop_greetings_and_thanks_only() -> None:
    text = "Hello! I hope you are doing well. Summarize the file. Thanks so much in advance!"
    assert run("pleasantries", text) == "Summarize the file."
    kept = "Thanks for checking the Terraform plan."
    assert run("pleasantries", kept) == kept


def test_filler_removes_fillers_and_politeness() -> None:
    text = "Basically, the cache is really slow, so please check it."
    assert run("filler", text) == "The cache is slow, so check it."


def test_filler_keeps_an_intensifier_after_a_negation() -> None:
    text = "The result is not very accurate."
    assert run("filler", text) == text


def test_hedges_go_only_where_uncertainty_stays() -> None:
    assert run("hedges", "I think the cause might be DNS.") == "The cause might be DNS."
    kept = "I think the cause is DNS."
    assert run("hedges", kept) == kept


def test_openers_chain_and_capitalize() -> None:
    text = "So basically, please make sure that you check the logs. Note that it is slow."
    assert run("openers", text) == "Check the logs. It is slow."


def test_openers_after_a_lead_that_stays() -> None:
    assert run("openers", "When you answer, please make sure that you cite sources.") == (
        "When you answer, cite sources."
    )
    assert run("openers", "Then, I want you to run it.") == "Then, run it."
    kept = "Here is what happened, in short: it broke."
    assert run("openers", kept) == kept


def test_openers_keep_sentences_that_would_break() -> None:
    kept = "It is important that you are thorough."
    assert run("openers", kept) == kept
    assert run("openers", "Could you please help me with the report?") == (
        "Help me with the report."
    )
    assert run("openers", "Could you explain why? Thanks.") == "Explain why. Thanks."


def test_verbose_shortens_phrases_with_grammar() -> None:
    text = (
        "In order to save money, the majority of our servers stop due to the fact that "
        "a large number of jobs finish early, and a large number of our jobs are small."
    )
    assert run("verbose", text) == (
        "To save money, most of our servers stop because many jobs finish early, "
        "and many of our jobs are small."
    )


def test_fold_openers_keeps_modals_in_each_item() -> None:
    text = (
        "The email must include an address. The email must include a link. "
        "The email must not use tricks."
    )
    assert run("fold_openers", text) == (
        "The email: must include an address; must include a link; must not use tricks."
    )


def test_fold_openers_folds_list_items() -> None:
    text = "- Check the disk usage daily\n- Check the disk quota weekly\n- Check the disk alerts"
    assert run("fold_openers", text) == ("Check the disk:\n- usage daily\n- quota weekly\n- alerts")


def test_minify_json_keeps_the_parsed_value() -> None:
    value = {"feature": "amount", "psi": 0.31, "tags": ["a", "b"], "nested": {"x": None}}
    text = "Drift report:\n" + json.dumps(value, indent=4) + "\nExplain it."
    out = run("minify_json", text)
    assert '{"feature":"amount","psi":0.31,"tags":["a","b"],"nested":{"x":null}}' in out
    assert optimize(text, passes=["minify_json"]).protected_retention == 1.0


def test_minify_tables_strips_padding() -> None:
    text = "| Service | Cost |\n|---------|------|\n| EC2     | 100  |"
    assert run("minify_tables", text) == "|Service|Cost|\n|---|---|\n|EC2|100|"
