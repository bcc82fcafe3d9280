"""The API docs page (/api/v1/docs), served with Swagger UI's assets from a pip package.

FastAPI's default docs page loads Swagger UI from a CDN, so it is blank offline and
behind firewalls; the arena promises to work there. swagger-ui-bundle-v2 ships the
Swagger UI 5 distribution (which reads OpenAPI 3.1, as FastAPI writes it) inside its
wheel, and those files are served from /api/v1/docs/assets.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

DOCS = "/api/v1/docs"
ASSETS = f"{DOCS}/assets"


def install_docs(app: FastAPI) -> None:
    """Add the docs page and its assets; call before any catch-all route under /api."""
    app.mount(ASSETS, StaticFiles(directory=swagger_ui_path), name="docs-assets")

    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/api/v1/openapi.json",
            title=f"{app.title}: docs",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
        )

    app.add_api_route(DOCS, docs, methods=["GET"], include_in_schema=False)
