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
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from arena.api.admin import router as admin_router
from arena.api.routes import router
from arena.api.submissions import router as submissions_router
from arena.errors import ArenaError
from arena.store.engine import unavailable

log = logging.getLogger("arena.api")


def install(app: FastAPI) -> None:
    """Mount the API and its JSON error handlers on the server's app."""
    app.include_router(router, prefix="/api/v1")
    app.include_router(submissions_router, prefix="/api/v1")
    app.include_router(admin_router, prefix="/api/v1")

    @app.exception_handler(ArenaError)
    async def _arena_error(_request: Request, exc: ArenaError) -> JSONResponse:
        return _answer(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": _describe(exc)}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)

    # The database or the data dir briefly away (a restart, a lock past the timeout, a full or
    # read-only disk) where no gateway call translated it: 503 with Retry-After, as the gateway's.
    # Handled here rather than by the last-resort handler below, so the connection stays usable.
    @app.exception_handler(SQLAlchemyError)
    @app.exception_handler(OSError)
    async def _storage(request: Request, exc: Exception) -> JSONResponse:
        mapped = unavailable(exc)
        if mapped is not None:
            return _answer(mapped)
        _log_unexpected(request, exc)
        return JSONResponse({"error": INTERNAL}, status_code=500)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        _log_unexpected(request, exc)
        # Starlette re-raises after this answer and uvicorn then drops the connection: say so.
        return JSONResponse({"error": INTERNAL}, status_code=500, headers={"Connection": "close"})


INTERNAL = "internal error; nothing was saved"


def _answer(exc: ArenaError) -> JSONResponse:
    retry = exc.retry_after_s
    headers = {"Retry-After": str(max(1, math.ceil(retry)))} if retry is not None else None
    return JSONResponse({"error": str(exc)}, status_code=exc.status, headers=headers)


def _log_unexpected(request: Request, exc: Exception) -> None:
    # A traceback's values may carry voter ids or prompts: the full one only at DEBUG.
    log.error(
        "unexpected %s on %s %s",
        exc.__class__.__name__,
        request.method,
        request.url.path,
        exc_info=log.isEnabledFor(logging.DEBUG),
    )


def _describe(exc: RequestValidationError) -> str:
    error = exc.errors()[0]
    if error.get("type") == "json_invalid":
        return "request body is not valid JSON"
    if tuple(error.get("loc", ())) == ("body",):
        return "request body must be a JSON object"
    where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
    message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message
