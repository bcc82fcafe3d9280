"""OpenAI's error vocabulary, in one place: what the worker answers and what remote endpoints send.

An OpenAI-compatible error is `{"error": {"message", "type", "param", "code"}}`, the same
body as an HTTP error and as an event inside an SSE stream. `type` is a broad class,
`code` a machine-readable string (or null), `param` the request field at fault (or null).

Engines that claim the protocol answer in other shapes too; `parse_error` reads all of
the documented ones (payloads replayed in tests/generators/fixtures/upstream_errors.json):

- OpenAI: `{"error": {"message", "type", "param", "code": "context_length_exceeded" | null}}`
- vLLM (>= 0.10): `{"error": {"message", "type": "BadRequestError", "param", "code": 400}}`;
  older vLLM: the same fields flat, `{"object": "error", "message", "type", "param", "code": 400}`
- TGI: `{"error": "Input validation error: ...", "error_type": "validation"}` for HTTP errors
  and /generate_stream events; its OpenAI route's in-stream event is
  `{"error": {"message": "...", "http_status_code": 422}}`
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from http import HTTPStatus
from typing import Any


class ErrorType(StrEnum):
    """The `type` of an error body: its broad class."""

    INVALID_REQUEST = "invalid_request_error"
    AUTHENTICATION = "authentication_error"
    PERMISSION = "permission_error"
    NOT_FOUND = "not_found_error"
    RATE_LIMIT = "rate_limit_error"
    SERVER = "server_error"


class ErrorCode(StrEnum):
    """The `code` of an error body: what exactly went wrong (a string, as OpenAI sends it)."""

    INVALID_VALUE = "invalid_value"
    INVALID_TYPE = "invalid_type"
    INVALID_JSON = "invalid_json"
    MISSING_REQUIRED_PARAMETER = "missing_required_parameter"
    UNSUPPORTED_PARAMETER = "unsupported_parameter"
    UNSUPPORTED_VALUE = "unsupported_value"
    CONTEXT_LENGTH_EXCEEDED = "context_length_exceeded"
    REQUEST_TOO_LARGE = "request_too_large"
    MODEL_NOT_FOUND = "model_not_found"
    UNKNOWN_URL = "unknown_url"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    INVALID_API_KEY = "invalid_api_key"
    RATE_LIMIT_EXCEEDED = "rate_limit_exceeded"
    GENERATION_FAILED = "generation_failed"
    INTERNAL_ERROR = "internal_error"


#: the type that goes with each status this project answers
STATUS_TYPES: dict[int, ErrorType] = {
    400: ErrorType.INVALID_REQUEST,
    401: ErrorType.AUTHENTICATION,
    403: ErrorType.PERMISSION,
    404: ErrorType.NOT_FOUND,
    405: ErrorType.INVALID_REQUEST,
    413: ErrorType.INVALID_REQUEST,
    422: ErrorType.SERVER,  # the request was fine, the model could not answer it (not retried)
    429: ErrorType.RATE_LIMIT,
}


def error_type_for(status: int) -> ErrorType:
    return STATUS_TYPES.get(status, ErrorType.SERVER if status >= 500 else ErrorType.INVALID_REQUEST)


def error_body(message: str, type: str, code: str | None = None, param: str | None = None) -> dict[str, Any]:
    """The one error shape, for HTTP error bodies and SSE error events alike."""
    return {
        "error": {"message": message, "type": str(type), "param": param, "code": None if code is None else str(code)}
    }


# ---- reading other servers' errors -------------------------------------------------


@dataclass(frozen=True)
class UpstreamError:
    """What an endpoint said went wrong, whatever shape it said it in.

    `message` is the endpoint's own text: for operators' logs, never for voters.
    """

    status: int | None
    type: str | None
    code: str | None
    param: str | None
    message: str

    @property
    def category(self) -> str:
        return classify(self)


# TGI's error_type values, and the OpenAI-style codes they amount to
_TGI_TYPES = {
    "validation": 400,
    "template_error": 400,
    "missing_template_variable": 400,
    "tool_error": 400,
    "overloaded": 429,
    "generation": 500,
    "incomplete_generation": 500,
    "incomplete_generation_stream": 500,
}

_CONTEXT_WORDS = re.compile(
    r"maximum context length|context[ _]length|context window|tokens \+ `max_new_tokens` must be"
    r"|`inputs` must have less than|prompt is too long|too many tokens",
    re.IGNORECASE,
)


def parse_error(payload: object, status: int | None = None) -> UpstreamError | None:
    """An endpoint's error from its decoded JSON body or stream event; None if it is not one."""
    if not isinstance(payload, dict):
        return None
    error = payload.get("error")
    if isinstance(error, dict):  # OpenAI, vLLM >= 0.10, TGI's OpenAI-route stream event
        code = error.get("code")
        http_status = error.get("http_status_code")
        if isinstance(code, int) and not isinstance(code, bool):  # vLLM puts the status here
            http_status, code = code, None
        return UpstreamError(
            status=status if status is not None else _int(http_status),
            type=_text(error.get("type")),
            code=_text(code),
            param=_text(error.get("param")),
            message=_text(error.get("message")) or "",
        )
    if isinstance(error, str) and error:  # TGI
        error_type = _text(payload.get("error_type"))
        return UpstreamError(
            status=status if status is not None else _TGI_TYPES.get(error_type or ""),
            type=error_type,
            code=None,
            param=None,
            message=error,
        )
    if payload.get("object") == "error" and isinstance(payload.get("message"), str):  # older vLLM
        code = payload.get("code")
        return UpstreamError(
            status=status if status is not None else _int(code),
            type=_text(payload.get("type")),
            code=None if isinstance(code, int) else _text(code),
            param=_text(payload.get("param")),
            message=payload["message"],
        )
    return None


def classify(error: UpstreamError) -> str:
    """One of: context_length_exceeded, model_not_found, invalid_api_key, rate_limited,
    invalid_request, generation_failed."""
    code, kind, status = (error.code or "").lower(), (error.type or "").lower(), error.status
    if code in ("context_length_exceeded", "string_above_max_length") or _CONTEXT_WORDS.search(error.message):
        return "context_length_exceeded"
    if code == "model_not_found" or status == 404 or kind in ("notfounderror", "not_found_error"):
        return "model_not_found"
    if status in (401, 403) or code == "invalid_api_key" or kind in ("authentication_error", "permission_error"):
        return "invalid_api_key"
    if (
        status == 429
        or kind in ("overloaded", "rate_limit_error", "requests", "tokens")
        or code in ("rate_limit_exceeded", "insufficient_quota")
    ):
        return "rate_limited"
    if kind in (
        "generation",
        "incomplete_generation",
        "incomplete_generation_stream",
        "server_error",
        "internalservererror",
    ):
        return "generation_failed"
    # 422 and 424 are how TGI and this project's worker say that generation itself failed
    if (status is not None and 400 <= status < 500 and status not in (422, 424)) or kind in (
        "invalid_request_error",
        "badrequesterror",
        "validation",
    ):
        return "invalid_request"
    return "generation_failed"


#: what a voter may read about each category: no model name, no key, no endpoint text
NEUTRAL_MESSAGES = {
    "context_length_exceeded": "the conversation is too long for this model",
    "model_not_found": "the model is not available at its endpoint",
    "invalid_api_key": "the model's endpoint refused the arena's credentials",
    "rate_limited": "the model's endpoint is busy; try again later",
    "invalid_request": "the model's endpoint refused the request",
    "generation_failed": "the model failed to generate an answer",
}


def neutral_message(error: UpstreamError) -> str:
    message = NEUTRAL_MESSAGES[error.category]
    return f"{message} (HTTP {error.status})" if error.status else message


def status_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _text(value: object) -> str | None:
    if isinstance(value, str):
        return value or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _int(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599:
        return value
    if isinstance(value, str) and value.isdigit() and 100 <= int(value) <= 599:
        return int(value)
    return None
