"""The worker's FastAPI application over already-loaded generators."""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp

from generators.protocol import Generator, GeneratorError
from generators.worker import errors
from generators.worker.cli import DEFAULT_MAX_BODY_BYTES
from generators.worker.middleware import WorkerMiddleware
from generators.worker.routes import WorkerState, router
from generators.worker.schemas import ChatCompletionChunk


class WorkerApp(FastAPI):
    """FastAPI with the worker's middleware outermost, so even a 500 carries an x-request-id."""

    def __init__(self, *, api_key_env: str | None, max_body_bytes: int, **kwargs: Any):
        self._api_key_env = api_key_env
        self._max_body_bytes = max_body_bytes
        super().__init__(**kwargs)

    def build_middleware_stack(self) -> ASGIApp:
        return WorkerMiddleware(
            super().build_middleware_stack(), api_key_env=self._api_key_env, max_body_bytes=self._max_body_bytes
        )

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            schema = get_openapi(
                title=self.title, version=self.version, description=self.description, routes=self.routes
            )
            # the SSE chunk is named in the chat route's 200 response; define it beside the others
            chunk = ChatCompletionChunk.model_json_schema(ref_template="#/components/schemas/{model}")
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(chunk.pop("$defs", {}))
            components["ChatCompletionChunk"] = chunk
            _validation_is_400(schema)
            self.openapi_schema = schema
        return self.openapi_schema


def _validation_is_400(schema: dict[str, Any]) -> None:
    """FastAPI documents invalid requests as 422 HTTPValidationError; this worker answers 400 ErrorResponse."""
    error = {
        "description": "the request cannot be served as asked; `param` names the field, `code` says why",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
    }
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.get("responses", {})
            if "HTTPValidationError" in str(responses.get("422", "")):
                del responses["422"]
                responses.setdefault("400", error)
    components = schema.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)


def create_app(
    generators: dict[str, Generator],
    api_key_env: str | None = None,
    request_timeout_s: float = 300.0,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> FastAPI:
    """The worker's HTTP face: OpenAI's routes (and the 3D extension) over `generators`."""
    app = WorkerApp(
        api_key_env=api_key_env,
        max_body_bytes=max_body_bytes,
        title="Open Arena worker",
        version="1",
        docs_url=None,
        redoc_url=None,
        description="OpenAI-compatible generation (chat, images) plus POST /v1/3d/generations.",
    )
    app.state.worker = WorkerState(generators, request_timeout_s, int(time.time()))
    app.add_exception_handler(errors.WorkerError, errors.worker_error)
    app.add_exception_handler(GeneratorError, errors.generator_error)
    app.add_exception_handler(RequestValidationError, errors.validation_error)
    app.add_exception_handler(StarletteHTTPException, errors.http_error)
    app.add_exception_handler(Exception, errors.internal_error)
    app.include_router(router)
    return app
