"""One process serves the web page at / and the REST API at /api/v1."""

from __future__ import annotations

import gc
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI
from starlette.exceptions import HTTPException as StarletteHTTPException

from arena import api
from arena.api.middleware import Hygiene
from arena.runtime import Arena, prepare
from arena.settings import Settings
from arena.ui import mount


def create_app(arena: Arena) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        await arena.start()
        # Everything loaded at start (Gradio, the page, models) lives as long as the process:
        # freezing it keeps the collector's full passes, which walk every object, short.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await arena.stop()

    app = FastAPI(
        title="Open Arena API",
        version="1",
        lifespan=lifespan,
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
    )
    app.state.arena = arena
    api.install(app)
    app.add_middleware(Hygiene, max_body_bytes=arena.settings.max_body_bytes, origins=arena.settings.origins)

    @app.api_route("/api/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
    def api_not_found(rest: str) -> None:
        """Unknown /api paths stay JSON 404s instead of falling through to the page mounted at /."""
        raise StarletteHTTPException(404)

    return mount(app, arena)  # the Gradio page at /, after every API route so it never shadows one


def serve(settings: Settings, host: str, port: int) -> None:
    arena = Arena(settings, entries=prepare(settings))
    uvicorn.run(create_app(arena), host=host, port=port, log_level="info", access_log=False)
