"""The admin token: a bearer token from ARENA_ADMIN_TOKEN, compared in constant time.

No token configured: every admin route answers 404 exactly as an unknown path does, so
a deployment without one does not even show that the routes exist. A missing or wrong
token: 401 with `WWW-Authenticate: Bearer`, raised before the handler runs, so nothing
changes. The actor written to the audit log is "admin", never the token.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Depends, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException

from arena.api.deps import arena_of
from arena.errors import ArenaError

ACTOR = "admin"
bearer = HTTPBearer(auto_error=False, description="ARENA_ADMIN_TOKEN")


class Unauthorized(ArenaError):
    status = 401


async def require_admin(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> str:
    """The actor for the audit log. Raises 404 (no token configured) or Unauthorized."""
    token = arena_of(request).settings.admin_token
    if not token:
        raise StarletteHTTPException(404)  # the same answer as a path that does not exist
    given = credentials.credentials if credentials is not None else ""
    if not hmac.compare_digest(given.encode(), token.encode()):
        raise Unauthorized("a valid admin token is required (Authorization: Bearer <ARENA_ADMIN_TOKEN>)")
    return ACTOR


class AdminRoute(APIRoute):
    """Checks the token before FastAPI reads the body, and answers a refused token with the
    challenge header a bearer client expects (a bad body must not tell a stranger 422)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                await require_admin(request, await bearer(request))
            except Unauthorized as exc:
                return JSONResponse({"error": str(exc)}, status_code=exc.status, headers={"WWW-Authenticate": "Bearer"})
            return await handler(request)

        return route
