"""Loading the models file's local models and serving them: `arena worker` / `python -m generators.worker`.

Importing this module loads no FastAPI, uvicorn, pydantic or backends (the arena's
command line builds `arena worker`'s parser from it on every start); serving imports them.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import uvicorn
    from fastapi import FastAPI

    from generators.config import ModelEntry
    from generators.protocol import Generator

log = logging.getLogger("generators.worker")

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DEFAULT_MODELS = "data/models.demo.yaml"
DESCRIPTION = (
    "Serve a models file's local (hf-*) and demo models over the OpenAI-compatible protocol: "
    "GET /v1/models[/{id}], POST /v1/chat/completions, POST /v1/images/generations and "
    "POST /v1/3d/generations, plus GET /health."
)


async def load_generators(entries: list[ModelEntry]) -> dict[str, Generator]:
    """Load every active local and demo model; an `openai` entry is not this worker's to serve."""
    from generators.protocol import ConfigError
    from generators.registry import build_generator

    generators: dict[str, Generator] = {}
    try:
        for entry in entries:
            if entry.backend == "openai" or entry.status != "active":
                continue
            started = time.perf_counter()
            generator = build_generator(entry)
            await generator.load()
            generators[entry.name] = generator
            log.info(
                "loaded %s (%s, %s) in %.1f s", entry.name, entry.backend, entry.modality, time.perf_counter() - started
            )
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
    import uvicorn

    return uvicorn.Server(
        uvicorn.Config(app, host=host, port=port, lifespan="off", log_level=log_level, timeout_graceful_shutdown=5)
    )


async def serve(
    entries: list[ModelEntry],
    host: str,
    port: int,
    api_key_env: str | None = None,
    request_timeout_s: float = 300.0,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> None:
    """Load the models first (a model that does not fit fails here, before listening), then serve."""
    from generators.worker.app import create_app

    generators = await load_generators(entries)
    try:
        app = create_app(generators, api_key_env, request_timeout_s, max_body_bytes)
        await build_server(app, host, port).serve()
    finally:
        await close_generators(generators)


def run_worker(args: argparse.Namespace) -> int:
    import asyncio

    from generators.config import load_models
    from generators.protocol import ConfigError

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.api_key_env and not os.environ.get(args.api_key_env):
        print(f"error: environment variable {args.api_key_env} (--api-key-env) is not set", file=sys.stderr)
        return 2
    try:
        asyncio.run(
            serve(load_models(args.models), args.host, args.port, args.api_key_env, args.timeout, args.max_body_bytes)
        )
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--models", default=DEFAULT_MODELS, help=f"models file (default {DEFAULT_MODELS})")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8100, help="port to listen on (default 8100)")
    parser.add_argument(
        "--api-key-env",
        default=None,
        metavar="NAME",
        help="require this environment variable's value as the Bearer token",
    )
    parser.add_argument("--timeout", type=float, default=300.0, help="per-request time limit in seconds")
    parser.add_argument(
        "--max-body-bytes",
        type=_positive_int,
        default=DEFAULT_MAX_BODY_BYTES,
        metavar="N",
        help=f"refuse request bodies larger than this with 413 (default {DEFAULT_MAX_BODY_BYTES})",
    )


def add_worker_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `worker` on the arena CLI's subparsers."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "worker", help="serve local models over the OpenAI-compatible protocol", description=DESCRIPTION
    )
    _add_arguments(parser)
    parser.set_defaults(func=run_worker)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m generators.worker", description=DESCRIPTION)
    _add_arguments(parser)
    return run_worker(parser.parse_args(argv))
