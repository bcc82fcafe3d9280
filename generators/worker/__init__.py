"""`arena worker`: serve local (and demo) models over the OpenAI-compatible protocol.

A GPU host runs this; the arena reaches it like any author's endpoint, with an `openai`
entry pointing at it. Endpoints: `GET /health`, `GET /v1/models`, `GET /v1/models/{id}`,
`POST /v1/chat/completions` (SSE when `stream`), `POST /v1/images/generations`
(`b64_json`) and this project's `POST /v1/3d/generations` (`b64_glb`).

Errors are OpenAI's shape, `{"error": {"message", "type", "param", "code"}}`, as HTTP
bodies and as events inside a stream: 400 for a request the model cannot serve as
asked (the parameter named in `param`, e.g. `context_length_exceeded`), 404 for an
unknown model, 413 for a body over `--max-body-bytes`, 422 when generation itself failed
(so clients do not retry a deterministic failure), 5xx only for the worker itself.
Every response carries an `x-request-id`.

Modules: `schemas` (request and response bodies), `routes` (one function per
endpoint), `errors` (the error bodies), `middleware` (request id, API key, body cap),
`app` (the FastAPI application), `cli` (loading models, serving, the command line).
"""

from generators.worker.app import DEFAULT_MAX_BODY_BYTES, create_app
from generators.worker.cli import (
    add_worker_parser,
    build_server,
    close_generators,
    load_generators,
    main,
    run_worker,
    serve,
)
from generators.worker.errors import WorkerError

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
