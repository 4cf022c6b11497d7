"""MessagePack (the default): compact and fast; holds bytes; tuples come back as lists."""

from __future__ import annotations

from typing import Any

import msgpack


class MsgpackSerializer:
    name = "msgpack"
    ident = 0x4D  # "M"

    def dumps(self, value: Any) -> bytes:
        return msgpack.packb(value, use_bin_type=True)

    def loads(self, data: bytes) -> Any:
        try:
            return msgpack.unpackb(data, raw=False, strict_map_key=False)
        except (msgpack.ExtraData, msgpack.FormatError, msgpack.StackError) as exc:
            raise ValueError(str(exc)) from None
