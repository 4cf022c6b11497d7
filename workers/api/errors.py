"""One error shape for every failure: ``{"error": "<one line naming what is wrong>"}``.

Package errors map to the status a client can act on: bad input 400, a hard budget 402,
cancelling a finished task 409, a tenant over its submission limit 429 (with
Retry-After), Redis or the broker down 503; FastAPI's schema errors become 400 with the
field named; anything unexpected is 500 with its type only (details go to the log).
"""

from __future__ import annotations

import logging
import math

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from kombu.exceptions import OperationalError
from redis import RedisError
from starlette.exceptions import HTTPException

from workers.errors import (
    AlreadyFinished,
    BackendUnavailable,
    BudgetExceeded,
    InfraMindError,
    InvalidInput,
    RateLimitExceeded,
)

log = logging.getLogger(__name__)

#: HTTP status per package error, most specific first.
STATUS: list[tuple[type[InfraMindError], int]] = [
    (AlreadyFinished, 409),
    (InvalidInput, 400),
    (BudgetExceeded, 402),
    (RateLimitExceeded, 429),
    (BackendUnavailable, 503),
]


def status_of(exc: InfraMindError) -> int:
    return next((code for kind, code in STATUS if isinstance(exc, kind)), 500)


def _body(message: str, code: int, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=code, headers=headers)


def install(api: FastAPI, max_body_bytes: int) -> None:
    @api.middleware("http")
    async def guard(request: Request, call_next):  # type: ignore[no-untyped-def]
        """Refuse an oversized body from its declared length, before reading any of it, and
        answer an unexpected failure in the usual shape. Caught here, not by a handler for
        ``Exception``: Starlette re-raises after such a handler, and the server then drops
        the connection under the response."""
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_body_bytes:
            return _body(
                f"request body is {declared} bytes, above the limit of {max_body_bytes} "
                "(api_max_body_bytes)",
                413,
            )
        try:
            return await call_next(request)
        except Exception as exc:
            log.exception("%s %s failed", request.method, request.url.path)
            kind = type(exc).__name__
            return _body(f"internal error ({kind}); the server log has the details", 500)

    @api.exception_handler(InfraMindError)
    async def package_error(_: Request, exc: InfraMindError) -> JSONResponse:
        if isinstance(exc, RateLimitExceeded):
            retry = str(max(1, math.ceil(exc.retry_after_s)))
            return _body(str(exc), 429, {"Retry-After": retry})
        return _body(str(exc), status_of(exc))

    @api.exception_handler(RedisError)
    async def redis_error(_: Request, exc: RedisError) -> JSONResponse:
        return _body(f"Redis is unreachable: {exc}", 503)

    @api.exception_handler(OperationalError)
    async def broker_error(_: Request, exc: OperationalError) -> JSONResponse:
        """Publishing failed (the broker is down): nothing was queued, so the client may retry."""
        return _body(f"the broker is unreachable, nothing was queued: {exc}", 503)

    @api.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        return _body(str(exc.detail), exc.status_code, getattr(exc, "headers", None))

    @api.exception_handler(RequestValidationError)
    async def schema_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
        return _body(f"{where or 'request'}: {first.get('msg', 'invalid')}", 400)
