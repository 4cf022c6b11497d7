"""The shortening passes beyond phrase lists, each on its own (with its token guard)."""

from __future__ import annotations

import pytest

from workers.prompts import optimize


def run(name: str, text: str) -> str:
    return optimize(text, passes=[name]).optimized


def test_asides_drop_clauses_about_the_writer() -> None:
    text = (
        "I've been banging my head against this for a while now and I don't know what else to try."
    )
    assert run("asides", text) == "I don't know what else to try."
    assert run("asides", "I'm new to AWS so be patient with me.") == "I'm new to AWS."
    assert run("asides", "Fix the build. I'm at a loss here.") == "Fix the build."


def test_asides_keep_clauses_that_say_something() -> None:
    kept = "I'm stuck on step 3 and the deploy fails."
    assert run("asides", kept) == kept
    assert run("asides", "I'm stuck and the `deploy` fails.") == "The `deploy` fails."


def test_asides_drop_tails_of_requests_only() -> None:
    assert run("asides", "Review the following plan for me.") == "Review the following plan."
    assert run("asides", "Compare these tools for me: A, B.") == "Compare these tools: A, B."
    assert run("asides", "Mention the SLA as well.") == "Mention the SLA."
    kept = "This is too hard for me."
    assert run("asides", kept) == kept


def test_restatements_drop_an_announced_repeat() -> None:
    text = (
        "Do not recommend a full rewrite. The public API must stay backwards compatible.\n\n"
        "Again, please remember that we do not want a full rewrite and the public API "
        "must remain backwards compatible."
    )
    out = run("restatements", text)
    assert out == "Do not recommend a full rewrite. The public API must stay backwards compatible."


def test_restatements_keep_a_repeat_that_adds_facts() -> None:
    text = (
        "Keep the answer short.\n\nAgain, keep the answer short and cite the 2023 audit "
        "findings in a table."
    )
    assert run("restatements", text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Here are the logs from the crash:\n\n```\nboom\n```", "The logs from the crash:\n\n"),
        ("Here is my config: a=1", "My config: a=1"),
        ("The YAML file looks like this:\n\nx: 1", "The YAML file:\n\nx: 1"),
        ("The rules are as follows: be brief.", "The rules: be brief."),
        ("Here is some context about our setup. We run 3 nodes.", "We run 3 nodes."),
    ],
)
def test_introducers_go(text: str, expected: str) -> None:
    assert run("introducers", text).startswith(expected)


@pytest.mark.parametrize(
    "text", ["Here is why it fails.", "Here it is: done.", "Here is the plan of record."]
)
def test_introducers_stay_without_a_colon_or_subject(text: str) -> None:
    assert run("introducers", text) == text


def test_clauses_shorten_relative_clauses_and_complementizers() -> None:
    text = (
        "Use the model that was trained on 2023 data, see the freeze, which is from May 1 "
        "to May 9, and assume that we have 150 hosts."
    )
    assert run("clauses", text) == (
        "Use the model trained on 2023 data, see the freeze, from May 1 to May 9, and "
        "assume we have 150 hosts."
    )


@pytest.mark.parametrize(
    "text",
    [
        "Make sure that works before you ship it.",
        "Tell the user which is deprecated in the release notes.",
        "Ensure that is documented in the runbook.",
        "Pick the pain points that are not in the notes.",
    ],
)
def test_clauses_keep_what_is_not_a_relative_clause(text: str) -> None:
    assert run("clauses", text) == text


def test_demonstratives_pick_this_or_these() -> None:
    text = (
        "Read the following notes and fix the following bug. The policy says the following: "
        "be nice. The following three tools are fine."
    )
    assert run("demonstratives", text) == (
        "Read these notes and fix this bug. The policy says this: be nice. These three "
        "tools are fine."
    )
    kept = "Ship it and report on the following day."
    assert run("demonstratives", kept) == kept


def test_dedupe_sentences_drops_a_list_item_another_one_implies() -> None:
    text = (
        "Rules:\n- Always cite your sources.\n- Always cite your sources with a URL.\n"
        "- Do not speculate about unreleased products.\n"
        "- Do not speculate about unreleased products or roadmaps."
    )
    assert run("dedupe_sentences", text) == (
        "Rules:\n- Always cite your sources with a URL.\n"
        "- Do not speculate about unreleased products or roadmaps."
    )


@pytest.mark.parametrize(
    ("short", "long"),
    [
        ("Do not deploy the service.", "Do not deploy the service on Fridays."),
        ("Reply in English.", "Reply in English or German."),
        ("Cite your sources.", "Cite your sources if asked."),
        ("Cite your sources.", "Cite your sources only for quotes."),
    ],
)
def test_dedupe_sentences_keeps_an_item_a_narrower_one_does_not_imply(
    short: str, long: str
) -> None:
    text = f"Rules:\n- {short}\n- {long}"
    assert run("dedupe_sentences", text) == text


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("filler", "We currently run 5 nodes.", "We run 5 nodes."),
        ("openers", "Also list the risks.", "List the risks."),
        ("openers", "Try to keep it short.", "Keep it short."),
        ("openers", "Read it twice, so it is important that you check it.", None),
        ("openers", "As I said, keep it short.", "Keep it short."),
        ("hedges", "We think that this might be DNS.", "This might be DNS."),
        ("verbose", "Could it have something to do with DNS?", "Could it relate to DNS?"),
        ("verbose", "What I need is a table.", "I need a table."),
        ("verbose", "I'm kind of new to this.", "I'm new to this."),
        ("verbose", "I need your help with the report.", "Help me with the report."),
        ("verbose", "Help me understand the error.", "Explain the error."),
        ("verbose", "Write it in a concise way.", "Write it concisely."),
        ("verbose", "Give me a short answer.", "Give a short answer."),
        ("verbose", "At this point in time, we run 5 nodes.", "We run 5 nodes."),
        ("pleasantries", "I have a couple of questions. Is it safe?", "Is it safe?"),
    ],
)
def test_new_phrase_rules(name: str, text: str, expected: str | None) -> None:
    out = run(name, text)
    if expected is None:
        assert out == "Read it twice, so check it."
    else:
        assert out == expected


def test_every_rule_on_the_whole_pipeline_keeps_protected_words() -> None:
    text = (
        "Here are the rules:\n\n- Do not speculate about products.\n"
        "- Do not speculate about products or roadmaps.\n\n"
        "We think that this might be the cause, so it is important that you never "
        "restart the `db` that is located in us-east-1 for me."
    )
    out = optimize(text).optimized
    for kept in ("not", "might", "never", "`db`", "us-east-1", "roadmaps"):
        assert kept in out
