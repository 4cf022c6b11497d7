"""JSON: readable with any tool; tuples come back as lists, bytes are refused."""

from __future__ import annotations

import json
from typing import Any


class JsonSerializer:
    name = "json"
    ident = 0x4A  # "J"

    def dumps(self, value: Any) -> bytes:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    def loads(self, data: bytes) -> Any:
        return json.loads(data.decode("utf-8"))
