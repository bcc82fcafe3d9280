"""Around every request: an `x-request-id`, the API key, and a cap on the body's size.

A plain ASGI middleware placed outside everything else (even the 500 handler), so every
response carries the request id, and a body over the cap is refused with 413 before any
route parses it, whether or not the client sent a Content-Length.
"""

from __future__ import annotations

import hmac
import os
import re
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from generators.errors import ErrorCode
from generators.worker.errors import WorkerError

REQUEST_ID_HEADER = b"x-request-id"
_SANE_ID = re.compile(rb"^[A-Za-z0-9][A-Za-z0-9._:+/=-]{0,127}$")


def request_id_from(headers: list[tuple[bytes, bytes]]) -> str:
    """The client's id if it is short and plain, else a new one."""
    for name, value in headers:
        if name.lower() == REQUEST_ID_HEADER and _SANE_ID.match(value):
            return value.decode()
    return f"req_{uuid.uuid4().hex}"


class WorkerMiddleware:
    def __init__(self, app: ASGIApp, *, api_key_env: str | None, max_body_bytes: int):
        self.app = app
        self.api_key_env = api_key_env
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
        request_id = request_id_from(headers)
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (REQUEST_ID_HEADER, request_id.encode())]
            await send(message)

        body: bytes | None = b""
        refusal = self._refuse_key(scope, headers)
        if refusal is None:
            body, refusal = await self._read_body(headers, receive)
        if refusal is not None:
            await refusal.response()(scope, receive, send_with_id)
        elif body is not None:  # None: the client went away while sending it
            await self.app(scope, _replay(body, receive), send_with_id)

    def _refuse_key(self, scope: Scope, headers: list[tuple[bytes, bytes]]) -> WorkerError | None:
        if not self.api_key_env or not str(scope.get("path", "")).startswith("/v1/"):
            return None
        expected = os.environ.get(self.api_key_env, "").encode()
        given = b""
        for name, value in headers:
            if name.lower() == b"authorization":
                given = value.removeprefix(b"Bearer ").strip()
        if expected and hmac.compare_digest(given, expected):
            return None
        return WorkerError(401, "missing or wrong API key", code=ErrorCode.INVALID_API_KEY)

    async def _read_body(
        self, headers: list[tuple[bytes, bytes]], receive: Receive
    ) -> tuple[bytes | None, WorkerError | None]:
        too_large = WorkerError(
            413,
            f"the request body is larger than this worker's limit of {self.max_body_bytes} bytes",
            code=ErrorCode.REQUEST_TOO_LARGE,
        )
        for name, value in headers:
            if name.lower() == b"content-length" and value.isdigit() and int(value) > self.max_body_bytes:
                return b"", too_large
        parts: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return None, None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return b"", too_large
            parts.append(chunk)
            if not message.get("more_body", False):
                return b"".join(parts), None


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body once, as one message; then the real channel (a streaming answer listens there for disconnects)."""
    sent = False

    async def replay() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        message: dict[str, Any] = dict(await receive())
        return message

    return replay
