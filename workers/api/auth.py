"""Bearer-token check for the API (constant-time compare; one token per deployment)."""

from __future__ import annotations

import hmac
from collections.abc import Callable

from fastapi import HTTPException, Request, status


def bearer_guard(token: str) -> Callable[[Request], None]:
    """A dependency refusing requests without ``Authorization: Bearer <token>``."""
    expected = token.encode()

    def check(request: Request) -> None:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "missing or wrong bearer token (see state_dir/api-token or INFRA_MIND_API_TOKEN)",
                headers={"WWW-Authenticate": "Bearer"},
            )

    return check
