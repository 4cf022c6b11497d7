"""The pipeline's result: token counts, savings, quality, fired passes and bad input."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from genai_prices import Usage, calc_price

from workers.errors import InvalidInput, UnknownName
from workers.prompts import optimize
from workers.prompts.counting import TokenCounter
from workers.prompts.optimizer import revision
from workers.tokens import count_tokens

CORPUS_FILE = Path(__file__).resolve().parents[1] / "benchmarks" / "data" / "prompts.jsonl"
CORPUS = [json.loads(line) for line in CORPUS_FILE.read_text("utf-8").splitlines()]
VERBOSE = (
    "Hello! I hope you are doing well. Please note that it is very important that you do "
    "not delete the `prod` bucket in order to save costs. Thanks so much in advance!"
)


def test_result_metrics() -> None:
    result = optimize(VERBOSE, model="gpt-4o")
    assert result.optimized == "Do not delete the `prod` bucket to save costs."
    assert result.original_tokens == count_tokens(VERBOSE, "gpt-4o")
    assert result.optimized_tokens == count_tokens(result.optimized, "gpt-4o")
    assert result.tokens_saved > 0 and 0 < result.reduction < 1
    assert result.protected_retention == 1.0
    assert result.quality == result.content_retention
    assert set(result.passes) == {"pleasantries", "openers", "verbose"}
    assert result.encoding


def test_cost_saved_per_1k_calls_uses_the_model_price() -> None:
    result = optimize(VERBOSE, model="gpt-4o")
    per_call = (
        calc_price(Usage(input_tokens=result.original_tokens), model_ref="gpt-4o").input_price
        - calc_price(Usage(input_tokens=result.optimized_tokens), model_ref="gpt-4o").input_price
    )
    assert result.cost_saved_per_1k_calls == per_call * 1000
    assert result.cost_saved_per_1k_calls > Decimal(0)


def test_unknown_model_has_no_price_but_is_still_counted() -> None:
    result = optimize(VERBOSE, model="in-house-llm-7")
    assert result.cost_saved_per_1k_calls is None
    assert result.tokens_saved > 0


def test_nothing_to_do_returns_the_input() -> None:
    text = "Summarize the incident below in 5 bullets."
    result = optimize(text)
    assert result.optimized == text and result.passes == () and result.quality == 1.0
    assert result.cost_saved_per_1k_calls == Decimal(0)


def test_a_prompt_is_never_emptied() -> None:
    assert optimize("Hello!").optimized == "Hello!"
    assert optimize("Hello! Thanks so much!").optimized.strip()
    assert optimize("Hello! Check the logs.").optimized == "Check the logs."


def test_empty_prompt() -> None:
    result = optimize("")
    assert (result.original_tokens, result.optimized_tokens, result.optimized) == (0, 0, "")


def test_capping_examples_is_reported_as_loss() -> None:
    shots = "\n\n".join(f"Input: case {n} alpha{n}\nOutput: label{n}" for n in range(5))
    result = optimize(shots, max_examples=2)
    assert result.optimized.count("Input:") == 2
    assert result.protected_retention < 1.0 and result.quality < 1.0
    assert "cap_examples" in result.passes


@pytest.mark.parametrize(
    ("prompt", "message"),
    [
        (42, "prompt must be a string"),
        ("x" * 70_000, "above the limit of 65536 bytes"),
        ("bad \ud800 text", "not valid Unicode"),
    ],
)
def test_bad_prompts_are_refused(prompt: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        optimize(prompt)  # type: ignore[arg-type]


def test_size_limit_is_configurable() -> None:
    with pytest.raises(InvalidInput, match="limit of 10 bytes"):
        optimize("x" * 11, max_bytes=10)


def test_unknown_pass_and_language() -> None:
    with pytest.raises(UnknownName, match="known:"):
        optimize("text", passes=["filler", "rewrite"])
    with pytest.raises(UnknownName, match="prompt language"):
        optimize("text", language="tlh")


def test_to_dict_contract() -> None:
    doc = optimize(VERBOSE).to_dict("p1")
    assert {"id", "original_tokens", "optimized_tokens", "optimized", "quality", "passes"} <= set(
        doc
    )
    assert doc["id"] == "p1" and isinstance(doc["passes"], list)
    json.dumps(doc)


def test_revision_is_stable() -> None:
    assert revision() == revision() and len(revision()) == 12


@pytest.mark.parametrize("model", ["gpt-4o-mini", "gpt-4o"])
def test_counter_matches_tiktoken(model: str) -> None:
    counter = TokenCounter(model)
    for row in CORPUS:
        text = row["prompt"]
        assert counter(text) == count_tokens(text, model)
        assert counter(text + "\n  \nx") == count_tokens(text + "\n  \nx", model)


def test_corpus_results_keep_every_protected_span() -> None:
    for row in CORPUS:
        result = optimize(row["prompt"])
        assert result.protected_retention == 1.0, row["id"]
        assert result.optimized_tokens <= result.original_tokens
