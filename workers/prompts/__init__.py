"""Prompt optimizer: deterministic token reduction that never alters protected content.

``optimize(prompt, model=...)`` returns an ``OptimizeResult``; see ``optimizer`` for the
guarantees and ``passes`` for what each pass does.
"""

from workers.prompts.optimizer import DEFAULT_MODEL, OptimizeResult, check_prompt, optimize

__all__ = ["DEFAULT_MODEL", "OptimizeResult", "check_prompt", "optimize"]
