"""How the worker refuses: one OpenAI-shaped body for every failure, HTTP or in-stream."""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from generators.errors import ErrorCode, error_body, error_type_for, status_phrase
from generators.protocol import GeneratorError, InvalidRequestError, OverloadedError

log = logging.getLogger("generators.worker")


class WorkerError(Exception):
    """A request the worker refuses, with the HTTP status, the parameter at fault and a code."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.param = param
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return error_body(str(self), error_type_for(self.status), self.code, self.param)

    def response(self, headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers={**self.headers, **(headers or {})})


def from_generator_error(exc: GeneratorError, request_id: str | None = None) -> WorkerError:
    """A backend's failure as the worker answers it: 400 for the request's fault, 429 with
    `Retry-After` when the model's queue is full, else 422.

    422 (not 5xx) because generating again would fail again: clients do not retry it.
    """
    if isinstance(exc, OverloadedError):
        return WorkerError(
            429, str(exc), code=ErrorCode.RATE_LIMIT_EXCEEDED, headers={"Retry-After": str(exc.retry_after_s)}
        )
    if isinstance(exc, InvalidRequestError):
        return WorkerError(400, str(exc), code=exc.code, param=exc.param)
    log.warning("request %s: generation failed: %s", request_id or "-", exc.detail)
    return WorkerError(422, str(exc), code=ErrorCode.GENERATION_FAILED)


async def worker_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, WorkerError)
    return exc.response()


async def generator_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GeneratorError)
    return from_generator_error(exc, getattr(request.state, "request_id", None)).response()


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    if status == 404:
        error = WorkerError(404, f"no such endpoint: {request.method} {request.url.path}", code=ErrorCode.UNKNOWN_URL)
    elif status == 405:
        error = WorkerError(
            405, f"{request.method} is not allowed on {request.url.path}", code=ErrorCode.METHOD_NOT_ALLOWED
        )
    else:
        detail = exc.detail if isinstance(exc.detail, str) else status_phrase(status)
        error = WorkerError(status, detail)
    return error.response(dict(exc.headers or {}))


async def internal_error(request: Request, exc: Exception) -> JSONResponse:
    """A bug in the worker: a short message, the traceback only in the log."""
    log.exception("request %s: unhandled error", getattr(request.state, "request_id", "-"), exc_info=exc)
    return WorkerError(500, "the worker failed unexpectedly", code=ErrorCode.INTERNAL_ERROR).response()


# pydantic's error types -> OpenAI's codes
_CODES = {
    "missing": ErrorCode.MISSING_REQUIRED_PARAMETER,
    "extra_forbidden": ErrorCode.UNSUPPORTED_PARAMETER,
    "json_invalid": ErrorCode.INVALID_JSON,
    "model_attributes_type": ErrorCode.INVALID_TYPE,
}
# union members and validators pydantic names in an error's location; not part of the parameter
_TYPE_TAG = re.compile(r"^(str|int|float|bool|none|list\[.*\]|dict\[.*\]|[A-Z]\w*|function-\w+\[.*\]|literal\[.*\])$")


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    first: dict[str, Any] = dict(errors[0]) if errors else {"loc": (), "msg": "invalid request", "type": ""}
    kind = str(first.get("type", ""))
    param = _param(first.get("loc", ()))
    code = _CODES.get(kind) or (
        ErrorCode.INVALID_TYPE if kind.endswith(("_type", "_parsing")) else ErrorCode.INVALID_VALUE
    )
    if kind == "json_invalid":
        message, param = "the request body is not valid JSON", None
    elif kind == "model_attributes_type" and param is None:
        message = "the request body must be a JSON object"
    elif kind == "extra_forbidden":
        message = f"{param}: this parameter is not supported by this worker"
    else:
        message = f"{param}: {first.get('msg')}" if param else str(first.get("msg"))
    return WorkerError(400, message, code=code, param=param).response()


def _param(loc: Any) -> str | None:
    """('body', 'messages', 0, 'content') -> 'messages[0].content'."""
    text = ""
    for part in loc:
        if part == "body" and not text:
            continue
        if isinstance(part, int):
            text += f"[{part}]"
        elif isinstance(part, str) and not _TYPE_TAG.match(part):
            text += f".{part}" if text else part
    return text or None
