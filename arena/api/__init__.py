"""The REST API under /api/v1: dependencies, request and response models, routes.

Every error is JSON `{"error": "..."}` with a 4xx status; request bodies are
validated before any service call, so bad input writes nothing.
"""

from __future__ import annotations

import logging
import math

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from arena.api.admin import router as admin_router
from arena.api.routes import router
from arena.api.submissions import router as submissions_router
from arena.errors import ArenaError, TooManyRequests

log = logging.getLogger("arena.api")


def install(app: FastAPI) -> None:
    """Mount the API and its JSON error handlers on the server's app."""
    app.include_router(router, prefix="/api/v1")
    app.include_router(submissions_router, prefix="/api/v1")
    app.include_router(admin_router, prefix="/api/v1")

    @app.exception_handler(ArenaError)
    async def _arena_error(_request: Request, exc: ArenaError) -> JSONResponse:
        headers = (
            {"Retry-After": str(max(1, math.ceil(exc.retry_after_s)))} if isinstance(exc, TooManyRequests) else None
        )
        return JSONResponse({"error": str(exc)}, status_code=exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": _describe(exc)}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # A traceback's values may carry voter ids or prompts: the full one only at DEBUG.
        log.error(
            "unexpected %s on %s %s",
            exc.__class__.__name__,
            request.method,
            request.url.path,
            exc_info=log.isEnabledFor(logging.DEBUG),
        )
        return JSONResponse({"error": "internal error; nothing was saved"}, status_code=500)


def _describe(exc: RequestValidationError) -> str:
    error = exc.errors()[0]
    if error.get("type") == "json_invalid":
        return "request body is not valid JSON"
    if tuple(error.get("loc", ())) == ("body",):
        return "request body must be a JSON object"
    where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
    message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message
