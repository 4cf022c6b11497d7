"""The routing strategies: one Lua file each, registered here by name.

A strategy file defines ``NAME``; ``INDEX``, the load index its pick reads (``'lc'``,
``'rt'``, ``'res'``) or nil; ``RANDOM``, whether it draws random numbers; ``pick(g, now)``,
which returns the queue of a live target of group ``g`` (nil when there is none) from the
indexes kept in ``common.lua``; and ``pick_many(g, now, count)``, the same for ``count``
picks in a row (``batch.lua`` has helpers). The decision script around it does the
accounting. Adding a strategy is adding one file and one :func:`register_strategy` call.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from pathlib import Path

from workers.errors import UnknownName
from workers.names import validate_name


class StrategyName(StrEnum):
    ROUND_ROBIN = "round_robin"
    LEAST_CONNECTIONS = "least_connections"
    WEIGHTED_ROUND_ROBIN = "weighted_round_robin"
    RESOURCE = "resource"
    RESPONSE_TIME = "response_time"
    P2C = "p2c"


@dataclass(frozen=True)
class Strategy:
    """A named pick rule; ``source`` is the Lua text defining ``NAME`` and ``pick``."""

    name: str
    summary: str
    source: str


def _builtin(name: StrategyName, summary: str) -> Strategy:
    text = resources.files(__package__).joinpath(f"{name.value}.lua").read_text("utf-8")
    return Strategy(name.value, summary, text)


_REGISTRY: dict[str, Strategy] = {
    s.name: s
    for s in (
        _builtin(StrategyName.ROUND_ROBIN, "each live target in turn"),
        _builtin(StrategyName.LEAST_CONNECTIONS, "lowest in flight / capacity"),
        _builtin(StrategyName.WEIGHTED_ROUND_ROBIN, "NGINX smooth weighted round robin"),
        _builtin(StrategyName.RESOURCE, "lowest CPU/memory, then in flight / capacity"),
        _builtin(StrategyName.RESPONSE_TIME, "lowest peak EWMA latency x (1 + load)"),
        _builtin(StrategyName.P2C, "less loaded of two random targets"),
    )
}


def known_strategies() -> list[str]:
    return sorted(_REGISTRY)


def resolve_strategy(name: object) -> Strategy:
    """The strategy called ``name``; raises ``UnknownName`` listing the known ones."""
    strategy = _REGISTRY.get(name) if isinstance(name, str) else None
    if strategy is None:
        raise UnknownName(
            f"unknown routing strategy {name!r}; known: {', '.join(known_strategies())}"
        )
    return strategy


def register_strategy(name: str, lua_file: Path, summary: str = "") -> Strategy:
    """Add a strategy from a Lua file that defines what the module docstring lists."""
    validate_name("strategy", name)
    source = Path(lua_file).read_text("utf-8")
    strategy = Strategy(name, summary or name, source)
    _REGISTRY[name] = strategy
    return strategy
