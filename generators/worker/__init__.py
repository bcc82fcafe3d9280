"""`arena worker`: serve local (and demo) models over the OpenAI-compatible protocol.

A GPU host runs this; the arena reaches it like any author's endpoint, with an `openai`
entry pointing at it. Endpoints: `GET /health`, `GET /v1/models`, `GET /v1/models/{id}`,
`POST /v1/chat/completions` (SSE when `stream`), `POST /v1/images/generations`
(`b64_json`) and this project's `POST /v1/3d/generations` (`b64_glb`).

Errors are OpenAI's shape, `{"error": {"message", "type", "param", "code"}}`, as HTTP
bodies and as events inside a stream: 400 for a request the model cannot serve as
asked (the parameter named in `param`, e.g. `context_length_exceeded`), 404 for an
unknown model, 413 for a body over `--max-body-bytes`, 422 when generation itself failed
(so clients do not retry a deterministic failure), 429 with `Retry-After` when a model's
queue (`max_queue`) is full, 5xx only for the worker itself.
Every response carries an `x-request-id`.

Modules: `schemas` (request and response bodies), `routes` (one function per
endpoint), `errors` (the error bodies), `middleware` (request id, API key, body cap),
`app` (the FastAPI application), `cli` (loading models, serving, the command line).

Importing this package (or `generators.worker.cli`, whose `add_worker_parser` the arena's
command line calls) loads no FastAPI, uvicorn or backends: the names below load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from generators.lazy import lazy_exports

if TYPE_CHECKING:
    from generators.worker.app import create_app
    from generators.worker.cli import (
        DEFAULT_MAX_BODY_BYTES,
        add_worker_parser,
        build_server,
        close_generators,
        load_generators,
        main,
        run_worker,
        serve,
    )
    from generators.worker.errors import WorkerError

_LAZY = {
    "create_app": "app",
    "WorkerError": "errors",
    **dict.fromkeys(
        (
            "DEFAULT_MAX_BODY_BYTES",
            "add_worker_parser",
            "build_server",
            "close_generators",
            "load_generators",
            "main",
            "run_worker",
            "serve",
        ),
        "cli",
    ),
}

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "WorkerError",
    "add_worker_parser",
    "build_server",
    "close_generators",
    "create_app",
    "load_generators",
    "main",
    "run_worker",
    "serve",
]


__getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY)
