"""What routes depend on: the arena of this process, who is asking, and the per-address limit."""

from __future__ import annotations

from fastapi import Depends, Request, Response

from arena.errors import InvalidInput
from arena.runtime import Arena
from arena.services.voters import (
    COOKIE,
    COOKIE_MAX_AGE,
    HEADER,
    Client,
    client_address,
    hash_ip,
    new_voter_id,
    valid_voter_id,
)


def arena_of(request: Request) -> Arena:
    arena: Arena = request.app.state.arena
    return arena


def address_of(request: Request) -> str | None:
    """The client's address; X-Forwarded-For counts only from ARENA_TRUSTED_PROXIES."""
    peer = request.client.host if request.client else None
    return client_address(peer, request.headers.get("x-forwarded-for"), arena_of(request).settings.proxies)


def ip_hash_of(request: Request) -> str | None:
    """The salted hash of the client's address, worked out once per request (FastAPI caches it)."""
    return hash_ip(address_of(request), arena_of(request).voters.salt)


async def throttle(request: Request, ip_hash: str | None = Depends(ip_hash_of)) -> None:
    """Every API request counts against its address's per-minute limit (TooManyRequests)."""
    await arena_of(request).voters.gate_request(ip_hash)


async def client(request: Request, response: Response, ip_hash: str | None = Depends(ip_hash_of)) -> Client:
    """Who asks: X-Arena-Voter header (API clients) or the arena_voter cookie, minted if absent.

    Nothing is stored here: a voter row is written with the first battle or profile, so a
    request that stores nothing leaves nothing behind.
    """
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
            response.set_cookie(
                COOKIE,
                voter,
                max_age=COOKIE_MAX_AGE,
                httponly=True,
                samesite="lax",
                secure=arena_of(request).settings.secure_cookies,
            )
    return Client(voter, ip_hash)
