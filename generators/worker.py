"""`arena worker`: serve local (and demo) models over the OpenAI-compatible protocol.

A GPU host runs this; the arena reaches it like any author's endpoint, with an
`openai` entry pointing at it. Endpoints: `GET /health`, `GET /v1/models`,
`POST /v1/chat/completions` (SSE when `stream`), `POST /v1/images/generations`
(`b64_json`) and this project's `POST /v1/3d/generations` (`b64_glb`). Errors are
`{"error": {"message": ...}}`: 4xx for a bad request, 422 when generation failed
(so clients do not retry a deterministic failure), 5xx only for the worker itself.

Run it as `arena worker --models FILE` or `python -m generators.worker --models FILE`.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import hmac
import logging
import os
import sys
import time
import uuid
from typing import Literal

import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from generators.config import ModelEntry, load_models
from generators.protocol import ConfigError, GenerationRequest, Generator, GeneratorError, Message
from generators.registry import build_generator
from generators.sse import sse_event

log = logging.getLogger("generators.worker")

DEFAULT_MODELS = "data/models.demo.yaml"
MAX_TOKENS_CAP = 8192


class WorkerError(Exception):
    """A request the worker refuses, with the HTTP status to answer."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


# ---- request bodies (extra fields are ignored, as OpenAI clients send many) ---------

class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ContentPart(_Body):
    type: str
    text: str | None = None


class ChatMessage(_Body):
    role: Literal["system", "user", "assistant", "developer"]
    content: str | list[ContentPart] | None = ""

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(part.text or "" for part in self.content if part.type == "text")
        return self.content or ""


class ChatBody(_Body):
    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    seed: int | None = None
    stream_options: dict | None = None


class ImageBody(_Body):
    model: str
    prompt: str = Field(min_length=1, max_length=10_000)
    n: int = Field(1, ge=1, le=1)
    size: str | None = Field(None, pattern=r"^\d{2,4}x\d{2,4}$")
    response_format: Literal["b64_json"] = "b64_json"
    seed: int | None = None
    steps: int | None = Field(None, ge=1, le=200)
    guidance: float | None = Field(None, ge=0, le=50)
    negative_prompt: str | None = None


class MeshBody(_Body):
    model: str
    prompt: str = Field("", max_length=10_000)
    image: str | None = None  # base64 PNG/JPEG: image-to-3D
    response_format: Literal["b64_glb"] = "b64_glb"
    seed: int | None = None
    steps: int | None = Field(None, ge=1, le=500)
    guidance: float | None = Field(None, ge=0, le=50)


# ---- the app -----------------------------------------------------------------------

def create_app(generators: dict[str, Generator], api_key_env: str | None = None,
               request_timeout_s: float = 300.0) -> FastAPI:
    """The worker's HTTP face over already-loaded generators."""
    app = FastAPI(title="Open Arena worker", docs_url=None, redoc_url=None)
    started = int(time.time())

    @app.exception_handler(WorkerError)
    async def _worker_error(request: Request, exc: WorkerError):
        return _error(exc.status, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        field = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
        return _error(400, f"{field}: {first.get('msg')}" if field else str(first.get("msg")))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        return _error(exc.status_code, str(exc.detail))

    @app.middleware("http")
    async def _authorise(request: Request, call_next):
        if api_key_env and request.url.path.startswith("/v1/"):
            expected = os.environ.get(api_key_env, "")
            given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
            if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
                return _error(401, "missing or wrong API key")
        return await call_next(request)

    @app.get("/health")
    async def health():
        models = {
            name: {"modality": gen.modality, **getattr(gen, "stats", {})} for name, gen in generators.items()
        }
        return {"status": "ok", "models": models}

    @app.get("/v1/models")
    async def list_models():
        return {
            "object": "list",
            "data": [
                {"id": name, "object": "model", "created": started, "owned_by": "open-arena",
                 "modality": gen.modality}
                for name, gen in generators.items()
            ],
        }

    def pick(name: str, modality: str) -> Generator:
        gen = generators.get(name)
        if gen is None:
            raise WorkerError(404, f"model {name!r} is not served by this worker")
        if gen.modality != modality:
            raise WorkerError(400, f"model {name!r} is a {gen.modality} model, not {modality}")
        return gen

    @app.post("/v1/chat/completions")
    async def chat(body: ChatBody):
        gen = pick(body.model, "text")
        max_tokens = min(body.max_completion_tokens or body.max_tokens or 256, MAX_TOKENS_CAP)
        request = GenerationRequest(
            modality="text",
            messages=[Message("system" if m.role == "developer" else m.role, m.text()) for m in body.messages],
            seed=body.seed,
            max_tokens=max_tokens,
            timeout_s=request_timeout_s,
            options={k: v for k, v in (("temperature", body.temperature), ("top_p", body.top_p)) if v is not None},
        )
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())
        if not body.stream:
            output = await _generate(gen, request)
            return {
                "id": completion_id, "object": "chat.completion", "created": created, "model": body.model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": output.text},
                             "finish_reason": _finish_reason(output.completion_tokens, max_tokens)}],
                "usage": {"prompt_tokens": output.prompt_tokens, "completion_tokens": output.completion_tokens,
                          "total_tokens": output.prompt_tokens + output.completion_tokens},
            }
        stream = gen.stream(request)
        try:  # fail with a status code, not inside a 200 stream, when nothing came out yet
            first = await anext(stream)
        except StopAsyncIteration:
            first = None
        except GeneratorError as exc:
            await stream.aclose()
            raise WorkerError(422, str(exc)) from None
        include_usage = bool((body.stream_options or {}).get("include_usage"))

        def chunk(delta: dict, finish: str | None = None) -> bytes:
            return sse_event({"id": completion_id, "object": "chat.completion.chunk", "created": created,
                              "model": body.model,
                              "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

        async def events():
            try:
                yield chunk({"role": "assistant", "content": ""})
                if first is not None:
                    yield chunk({"content": first})
                    async for text in stream:
                        yield chunk({"content": text})
                output = stream.output
                yield chunk({}, _finish_reason(output.completion_tokens, max_tokens))
                if include_usage:
                    yield sse_event({"id": completion_id, "object": "chat.completion.chunk", "created": created,
                                     "model": body.model, "choices": [],
                                     "usage": {"prompt_tokens": output.prompt_tokens,
                                               "completion_tokens": output.completion_tokens,
                                               "total_tokens": output.prompt_tokens + output.completion_tokens}})
                yield sse_event("[DONE]")
            except GeneratorError as exc:
                yield sse_event({"error": {"message": str(exc), "type": "generator_error"}})
            finally:
                await stream.aclose()  # a client that disconnects stops its row of the batch

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @app.post("/v1/images/generations")
    async def images(body: ImageBody):
        gen = pick(body.model, "image")
        options = {k: v for k, v in (("steps", body.steps), ("guidance", body.guidance),
                                      ("negative_prompt", body.negative_prompt)) if v is not None}
        if body.size:
            width, height = (int(side) for side in body.size.split("x"))
            options.update(width=width, height=height)
        request = GenerationRequest.from_prompt("image", body.prompt, seed=body.seed,
                                                timeout_s=request_timeout_s, options=options)
        output = await _generate(gen, request)
        return {"created": int(time.time()),
                "data": [{"b64_json": base64.b64encode(output.png).decode(), "width": output.width,
                          "height": output.height}]}

    @app.post("/v1/3d/generations")
    async def meshes(body: MeshBody):
        gen = pick(body.model, "3d")
        image = None
        if body.image:
            try:
                image = base64.b64decode(body.image, validate=True)
            except (binascii.Error, ValueError):
                raise WorkerError(400, "image: not valid base64") from None
        if not body.prompt.strip() and image is None:
            raise WorkerError(400, "prompt or image is required")
        options = {k: v for k, v in (("steps", body.steps), ("guidance", body.guidance)) if v is not None}
        request = GenerationRequest.from_prompt("3d", body.prompt, seed=body.seed, image=image,
                                                timeout_s=request_timeout_s, options=options)
        output = await _generate(gen, request)
        return {"created": int(time.time()),
                "data": [{"b64_glb": base64.b64encode(output.glb).decode(), "vertices": output.vertices,
                          "faces": output.faces}]}

    return app


async def _generate(gen: Generator, request: GenerationRequest):
    try:
        return await gen.generate(request)
    except GeneratorError as exc:
        raise WorkerError(422, str(exc)) from None


def _finish_reason(completion_tokens: int, max_tokens: int) -> str:
    return "length" if completion_tokens >= max_tokens else "stop"


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "code": status}}, status_code=status)


# ---- running it --------------------------------------------------------------------

async def load_generators(entries: list[ModelEntry]) -> dict[str, Generator]:
    """Load every active local and demo model; an `openai` entry is not this worker's to serve."""
    generators: dict[str, Generator] = {}
    try:
        for entry in entries:
            if entry.backend == "openai" or entry.status != "active":
                continue
            started = time.perf_counter()
            generator = build_generator(entry)
            await generator.load()
            generators[entry.name] = generator
            log.info("loaded %s (%s, %s) in %.1f s", entry.name, entry.backend, entry.modality,
                     time.perf_counter() - started)
    except BaseException:
        await close_generators(generators)
        raise
    if not generators:
        raise ConfigError("the models file has no local or demo models for a worker to serve")
    return generators


async def close_generators(generators: dict[str, Generator]) -> None:
    for generator in generators.values():
        await generator.close()


def build_server(app: FastAPI, host: str, port: int, log_level: str = "info") -> uvicorn.Server:
    return uvicorn.Server(uvicorn.Config(app, host=host, port=port, lifespan="off", log_level=log_level,
                                         timeout_graceful_shutdown=5))


async def serve(entries: list[ModelEntry], host: str, port: int, api_key_env: str | None = None,
                request_timeout_s: float = 300.0) -> None:
    """Load the models first (a model that does not fit fails here, before listening), then serve."""
    generators = await load_generators(entries)
    try:
        await build_server(create_app(generators, api_key_env, request_timeout_s), host, port).serve()
    finally:
        await close_generators(generators)


def run_worker(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.api_key_env and not os.environ.get(args.api_key_env):
        print(f"error: environment variable {args.api_key_env} (--api-key-env) is not set", file=sys.stderr)
        return 2
    try:
        asyncio.run(serve(load_models(args.models), args.host, args.port, args.api_key_env, args.timeout))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--models", default=DEFAULT_MODELS, help=f"models file (default {DEFAULT_MODELS})")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8100, help="port to listen on (default 8100)")
    parser.add_argument("--api-key-env", default=None, metavar="NAME",
                        help="require this environment variable's value as the Bearer token")
    parser.add_argument("--timeout", type=float, default=300.0, help="per-request time limit in seconds")


def add_worker_parser(subparsers) -> argparse.ArgumentParser:
    """Register `worker` on the arena CLI's subparsers."""
    parser = subparsers.add_parser("worker", help="serve local models over the OpenAI-compatible protocol",
                                   description=__doc__.split("\n\n")[1])
    _add_arguments(parser)
    parser.set_defaults(func=run_worker)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m generators.worker", description=__doc__.split("\n\n")[1])
    _add_arguments(parser)
    return run_worker(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
