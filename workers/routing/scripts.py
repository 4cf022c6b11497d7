"""The routing Lua scripts: read once, prefixed with the shared library, run by SHA.

Every script starts with ``common.lua`` and gets the same first three keys (in-flight hash,
target prefix, group set); a decision script is ``common.lua`` + ``batch.lua`` + one strategy
+ ``decide.lua``.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import redis
from redis.exceptions import NoScriptError

from workers import keys
from workers.routing import keyspace
from workers.routing.strategies import Strategy

#: The keys every script receives first, in this order (see ``common.lua``).
BASE_KEYS = (keys.INFLIGHT, keyspace.TARGET_PREFIX, keyspace.GROUPS)


@dataclass(frozen=True)
class LuaScript:
    """A script run by EVALSHA, loaded into the server the first time it is missing."""

    name: str
    source: str
    sha: str

    def __call__(self, client: redis.Redis, keys: Sequence[str], args: Sequence[Any]) -> Any:
        all_keys = (*BASE_KEYS, *keys)
        try:
            return client.evalsha(self.sha, len(all_keys), *all_keys, *args)
        except NoScriptError:
            client.script_load(self.source)
            return client.evalsha(self.sha, len(all_keys), *all_keys, *args)


def _read(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text("utf-8")


def _make(name: str, *parts: str) -> LuaScript:
    source = "\n".join(parts)
    return LuaScript(name, source, hashlib.sha1(source.encode()).hexdigest())


@functools.cache
def script(name: str) -> LuaScript:
    """``common.lua`` followed by ``<name>.lua`` from this package."""
    return _make(name, _read("common.lua"), _read(f"{name}.lua"))


@functools.cache
def _decision(name: str, source: str) -> LuaScript:
    return _make(
        f"decide:{name}", _read("common.lua"), _read("batch.lua"), source, _read("decide.lua")
    )


def decision_script(strategy: Strategy) -> LuaScript:
    return _decision(strategy.name, strategy.source)


def now_arg(now_ms: float | None) -> str:
    """The scripts' clock argument: the caller's time in ms, or '' for the server's."""
    return "" if now_ms is None else repr(float(now_ms))


def text(value: object) -> str:
    """A reply item as str, whether the client decodes responses or not."""
    return value.decode() if isinstance(value, bytes) else str(value)
