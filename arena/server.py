"""One process serves the web page at / and the REST API at /api/v1."""
from __future__ import annotations

from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from arena import api
from arena.runtime import Arena
from arena.settings import Settings

LANDING = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Open Arena</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem">
<h1>Open Arena</h1><p>Anonymous side-by-side battles for text, image and 3D models.</p>
<p>The REST API is documented at <a href="/api/v1/docs">/api/v1/docs</a>
(<a href="/api/v1/openapi.json">OpenAPI</a>).</p></body></html>"""


def create_app(arena: Arena) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        await arena.start()
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

    @app.get("/", include_in_schema=False)
    def landing() -> HTMLResponse:
        return HTMLResponse(LANDING)

    return app


def serve(settings: Settings, host: str, port: int) -> None:
    arena = Arena(settings)
    uvicorn.run(create_app(arena), host=host, port=port, log_level="info", access_log=False)
