"""One process serves the web page at / and the REST API at /api/v1."""

from __future__ import annotations

import gc
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from arena import api
from arena.api.docs import install_docs
from arena.api.middleware import Hygiene
from arena.runtime import Arena, prepare
from arena.settings import Settings
from arena.ui import mount

GRACEFUL_SHUTDOWN_S = 3  # what a request in flight gets to finish after Ctrl-C
# Every method a client may send to an /api path that no route takes gets a JSON answer.
API_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT")


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
        docs_url=None,  # served by arena.api.docs from local assets, not a CDN
        redoc_url=None,
    )
    app.state.arena = arena
    api.install(app)
    install_docs(app)
    app.add_middleware(Hygiene, max_body_bytes=arena.settings.max_body_bytes, origins=arena.settings.origins)

    # Unknown /api paths and methods stay JSON errors instead of falling through to the page at /.
    app.add_api_route("/api/{rest:path}", _api_not_routed, methods=list(API_METHODS), include_in_schema=False)

    return mount(app, arena)  # the Gradio page at /, after every API route so it never shadows one


async def _api_not_routed(request: Request) -> None:
    """405 with Allow for an /api path routed for other methods, 404 for an unknown path."""
    allowed = _allowed_methods(request)
    if allowed:
        raise StarletteHTTPException(405, headers={"Allow": ", ".join(sorted(allowed))})
    raise StarletteHTTPException(404)


def _allowed_methods(request: Request) -> set[str]:
    """The methods the app's own routes (those before the catch-all) take at the request's path."""
    allowed: set[str] = set()
    for method in API_METHODS:
        scope = {**request.scope, "method": method}
        for route in request.app.router.routes:
            if getattr(route, "endpoint", None) is _api_not_routed:
                break
            if route.matches(scope)[0] == Match.FULL:
                allowed.add(method)
                break
    return allowed


def serve(settings: Settings, host: str, port: int) -> None:
    arena = Arena(settings, entries=prepare(settings))
    # Open browser tabs keep Gradio's heartbeat streams open for ever: without a bound, Ctrl-C would
    # wait on them and the server would never stop. After the bound uvicorn closes them, and the
    # lifespan's shutdown (the board, health and audit jobs) runs as usual.
    uvicorn.run(
        create_app(arena),
        host=host,
        port=port,
        log_level="info",
        access_log=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )
