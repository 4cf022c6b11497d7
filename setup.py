"""Optional compiled build of the prompt optimizer's hot modules with mypyc.

Plain installs (``pip install -e .``, ``make``) stay pure Python: the ``.py`` files are the
reference and what development runs. With ``INFRA_MIND_MYPYC=1`` and mypy installed
(``pip install --no-build-isolation .``, as the Dockerfile does) the modules below become C
extensions, about 1.3x faster end to end; ``benchmarks/prompts.py`` measures both builds
side by side and checks they give identical output.
"""

import os
from pathlib import Path

from setuptools import setup

#: ``optimizer.py`` stays interpreted: compiled code checks argument types on entry, and
#: ``optimize(42)`` must raise ``InvalidInput``, not ``TypeError``. ``passes/base.py`` too,
#: so a user's own pass may build on ``PassContext``.
HOT = [
    "workers/prompts/segments.py",
    "workers/prompts/similarity.py",
    "workers/prompts/edits.py",
    "workers/prompts/phrases.py",
    "workers/prompts/doc.py",
    "workers/prompts/examples.py",
    "workers/prompts/spans.py",
    "workers/prompts/inline_spans.py",
    "workers/prompts/inline_tokens.py",
    "workers/prompts/block_spans.py",
    "workers/prompts/counting.py",
    "workers/prompts/sweeps.py",
    *sorted(
        str(p)
        for p in Path("workers/prompts/passes").glob("*.py")
        if p.name not in ("base.py",)
    ),
]

ext_modules = []
if os.environ.get("INFRA_MIND_MYPYC") == "1":
    from mypyc.build import mypycify

    ext_modules = mypycify(
        ["--ignore-missing-imports", "--follow-imports=silent", *HOT], opt_level="3"
    )

setup(ext_modules=ext_modules)
