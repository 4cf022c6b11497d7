"""The compiled build the Docker image ships (mypyc) behaves exactly like the pure-Python
reference: same output and passes on the benchmark corpus and the guarantee samples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import compiled
from workers.prompts import optimize

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not compiled.available(), reason="needs mypy and a C compiler"),
]

CORPUS = Path(__file__).resolve().parents[1] / "benchmarks" / "data" / "prompts.jsonl"
EXTRA = [
    "Hello!",
    "",
    "Please note that you must not delete `prod-db` in order to keep 30 days of backups.",
    "Thanks so much!\n\nBasically, I want you to summarize the following log:\n\n"
    "```\nERROR 2024-05-14 10:30 UTC disk full\n```\n\nThanks so much!",
    '{"a": 1,   "b": [1, 2]}\n\nReally, really check the JSON above. Really check it.',
]

RUN = """
import json, sys
from workers.prompts import optimize
texts = json.load(open(sys.argv[1], encoding="utf-8"))
print(json.dumps([[r.optimized, list(r.passes), r.original_tokens, r.optimized_tokens,
                   r.quality] for r in map(optimize, texts)]))
"""


def test_compiled_output_is_identical(tmp_path: Path) -> None:
    texts = [json.loads(line)["prompt"] for line in CORPUS.read_text().splitlines()] + EXTRA
    source = tmp_path / "texts.json"
    source.write_text(json.dumps(texts))
    got = json.loads(compiled.run(RUN, str(source)))
    want = [
        [r.optimized, list(r.passes), r.original_tokens, r.optimized_tokens, r.quality]
        for r in map(optimize, texts)
    ]
    assert got == want


def test_compiled_build_still_refuses_bad_input() -> None:
    out = compiled.run(
        "from workers.errors import InvalidInput\n"
        "from workers.prompts import optimize\n"
        "try:\n    optimize(42)\nexcept InvalidInput as exc:\n    print(exc)\n"
    )
    assert out.strip() == "prompt must be a string, not int"
