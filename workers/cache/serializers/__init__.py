"""Value serializers: one module per format, looked up by name. Never pickle: a value read
back from a shared Redis must not be able to run code."""

from __future__ import annotations

from typing import Any, Protocol

from workers.errors import UnknownName


class Serializer(Protocol):
    #: Short name used in settings.
    name: str
    #: One byte stored in each value's header so a reader knows how to decode it.
    ident: int

    def dumps(self, value: Any) -> bytes:
        """Encode; raise ``TypeError``/``ValueError`` for values the format cannot hold."""
        ...

    def loads(self, data: bytes) -> Any:
        """Decode; raise ``ValueError`` (or a subclass) for data that is not this format."""
        ...


def _registry() -> dict[str, Serializer]:
    from workers.cache.serializers.json_codec import JsonSerializer
    from workers.cache.serializers.msgpack_codec import MsgpackSerializer

    return {s.name: s for s in (MsgpackSerializer(), JsonSerializer())}


def get_serializer(name: str) -> Serializer:
    known = _registry()
    if name not in known:
        raise UnknownName(f"unknown cache serializer {name!r}; known: {', '.join(sorted(known))}")
    return known[name]


def by_ident(ident: int) -> Serializer | None:
    """The serializer that wrote a value with this header byte, None for unknown ones."""
    for serializer in _registry().values():
        if serializer.ident == ident:
            return serializer
    return None
