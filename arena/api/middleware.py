"""Request hygiene for the whole server (page and API): body size, uploads, origins, headers.

Pure ASGI, so streamed answers (text battles, Gradio's event stream) pass through
unbuffered. A body over the cap is refused before the application reads it: by its
Content-Length, or, when a client streams a body without one, after reading at
most the cap. The page takes no uploads, so Gradio's upload route is closed. The
API answers browsers only from the arena's own origin (ARENA_PUBLIC_URL) and those
listed in ARENA_ALLOWED_ORIGINS; every answer carries headers that forbid framing
and content sniffing.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CLOSED_PATHS = ("/gradio_api/upload", "/upload")
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"frame-ancestors 'none'; object-src 'none'; base-uri 'self'"),
    (b"referrer-policy", b"same-origin"),
]
API_PREFIX = "/api/"
CORS_METHODS = b"GET, POST, PUT, DELETE, OPTIONS"
CORS_HEADERS = b"content-type, x-arena-voter, authorization"


class Hygiene:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, origins: frozenset[str]):
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.origins = origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        headers = {name.lower(): value for name, value in scope.get("headers", [])}
        origin = headers.get(b"origin", b"").decode("latin-1")
        is_api = path.startswith(API_PREFIX)
        allowed = is_api and origin in self.origins
        if path.startswith(CLOSED_PATHS):
            await _json(send, 404, "Not Found")
            return
        if is_api and (b"%00" in scope.get("query_string", b"").lower() or "\x00" in path):
            await _json(send, 400, "the URL must not hold NUL characters")  # PostgreSQL text cannot hold one
            return
        if is_api and scope["method"] == "OPTIONS" and origin:
            if allowed:
                await _preflight(send, origin)
            else:
                await _json(send, 403, "this origin may not call the API")
            return
        length = headers.get(b"content-length")
        if length is not None:
            if not length.isdigit() or int(length) > self.max_body_bytes:
                await _json(send, 413, f"request body is larger than {self.max_body_bytes} bytes")
                return
        elif scope["method"] in ("POST", "PUT", "PATCH"):
            body = await _read_capped(receive, self.max_body_bytes)
            if body is None:
                await _json(send, 413, f"request body is larger than {self.max_body_bytes} bytes")
                return
            receive = _replay(body)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = list(SECURITY_HEADERS)
                if allowed:
                    extra += [
                        (b"access-control-allow-origin", origin.encode("latin-1")),
                        (b"access-control-allow-credentials", b"true"),
                        (b"vary", b"Origin"),
                    ]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _read_capped(receive: Receive, cap: int) -> bytes | None:
    """The whole body, or None as soon as it passes `cap` bytes (the rest is never read)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > cap:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


async def _json(send: Send, status: int, error: str) -> None:
    body = json.dumps({"error": error}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *SECURITY_HEADERS,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _preflight(send: Send, origin: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 204,
            "headers": [
                (b"access-control-allow-origin", origin.encode("latin-1")),
                (b"access-control-allow-credentials", b"true"),
                (b"access-control-allow-methods", CORS_METHODS),
                (b"access-control-allow-headers", CORS_HEADERS),
                (b"access-control-max-age", b"600"),
                (b"vary", b"Origin"),
                *SECURITY_HEADERS,
            ],
        }
    )
    await send({"type": "http.response.body", "body": b""})
