"""Who is voting, on the web page: the same `arena_voter` cookie the REST API uses.

The page response sets the cookie when it is absent, so every later Gradio call
from that browser carries it and a visitor keeps one id across visits without a
login. If a browser refuses cookies, the Gradio session id stands in, which still
keeps one battle's start and vote together.
"""

from __future__ import annotations

import re

import gradio as gr

from arena.runtime import Arena
from arena.services.voters import COOKIE, COOKIE_MAX_AGE, Client, client_address, new_voter_id, valid_voter_id

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def voter_of(request: gr.Request | None) -> str:
    """The voter id for a Gradio event: the cookie, else one derived from the session."""
    if request is not None:
        cookie = (getattr(request, "cookies", None) or {}).get(COOKIE)
        if valid_voter_id(cookie):
            return cookie
        session = _UNSAFE.sub("", str(getattr(request, "session_hash", "") or ""))
        if session:
            return f"session-{session}"[:64]
    return new_voter_id()


def client_of(arena: Arena, request: gr.Request | None) -> Client:
    """Who sent a page event: the voter id and the salted hash of their address (as the API sees it)."""
    peer = getattr(getattr(request, "client", None), "host", None) if request is not None else None
    headers = getattr(request, "headers", None) or {}
    address = client_address(peer, headers.get("x-forwarded-for"), arena.settings.proxies)
    return arena.voters.client(voter_of(request), address)


class VoterCookieMiddleware:
    """Sets the voter cookie on the page itself (GET /), so the UI's calls carry it.

    Pure ASGI rather than BaseHTTPMiddleware: it never wraps Gradio's streamed
    responses in a buffering layer, and touches nothing but the page.
    """

    def __init__(self, app, path: str = "/", secure: bool = False):
        self.app = app
        self.path = path
        self.secure = secure  # Secure when the arena is served over https (ARENA_PUBLIC_URL)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("path") != self.path or _has_cookie(scope):
            return await self.app(scope, receive, send)
        cookie = (
            f"{COOKIE}={new_voter_id()}; Max-Age={COOKIE_MAX_AGE}; Path=/; HttpOnly; SameSite=Lax"
            + ("; Secure" if self.secure else "")
        ).encode()

        async def send_with_cookie(message):
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"set-cookie", cookie)]
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def _has_cookie(scope) -> bool:
    for name, value in scope.get("headers", []):
        if name == b"cookie" and f"{COOKIE}=".encode() in value:
            return True
    return False
