"""Validation of names that become Redis keys and queue names."""

from __future__ import annotations

import re

from workers.errors import InvalidInput

NAME_PATTERN = r"[a-z0-9_-]{1,48}"
_NAME_RE = re.compile(rf"^{NAME_PATTERN}$")


def validate_name(kind: str, value: object) -> str:
    """Return ``value`` if it is a safe name, else raise ``InvalidInput`` naming ``kind``.

    Agent types, pools and tenants end up inside Redis keys and queue names, so they are
    restricted to ``[a-z0-9_-]{1,48}``: no separators, no glob characters, bounded length.
    """
    if not isinstance(value, str) or not _NAME_RE.match(value):
        raise InvalidInput(
            f"invalid {kind} name {value!r}: use 1-48 characters from a-z, 0-9, '_' and '-'"
        )
    return value
