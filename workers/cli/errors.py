"""Turning package errors into one line on stderr and a named exit code."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer

from workers.errors import InfraMindError

P = ParamSpec("P")
R = TypeVar("R")


def fail(exc: InfraMindError) -> typer.Exit:
    print(f"error: {exc}", file=sys.stderr)
    return typer.Exit(exc.exit_code)


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Decorator for commands: an ``InfraMindError`` becomes ``error: ...`` and its exit code."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except InfraMindError as exc:
            raise fail(exc) from None

    return wrapper
