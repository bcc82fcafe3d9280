"""What routes depend on: the arena of this process and the voter behind a request."""

from __future__ import annotations

from fastapi import Request, Response

from arena.errors import InvalidInput
from arena.runtime import Arena
from arena.services.voters import COOKIE, COOKIE_MAX_AGE, HEADER, new_voter_id, valid_voter_id


def arena_of(request: Request) -> Arena:
    arena: Arena = request.app.state.arena
    return arena


async def voter_id(request: Request, response: Response) -> str:
    """The voter: X-Arena-Voter header (API clients) or the arena_voter cookie, created if absent."""
    header = request.headers.get(HEADER)
    if header is not None:
        if not valid_voter_id(header):
            raise InvalidInput(f"{HEADER} must be 8-64 characters: letters, digits, '-' or '_'")
        voter = header
    else:
        cookie = request.cookies.get(COOKIE)
        if cookie is not None and valid_voter_id(cookie):
            voter = cookie
        else:
            voter = new_voter_id()
            response.set_cookie(COOKIE, voter, max_age=COOKIE_MAX_AGE, httponly=True, samesite="lax")
    await arena_of(request).voters.ensure(voter, request.client.host if request.client else None)
    return voter
