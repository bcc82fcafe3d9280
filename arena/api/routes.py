"""The REST API under /api/v1: battles, votes, models, leaderboards, artifacts.

Every error is JSON `{"error": "..."}` with a 4xx status; request bodies are
validated before any service call, so bad input writes nothing.
"""
from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from arena.services.battles import BattleView, SideOutput
from arena.services.catalog import list_models
from arena.errors import ArenaError, InvalidInput, NotFound
from arena.runtime import Arena
from arena.services.voters import new_voter_id, valid_voter_id

log = logging.getLogger("arena.api")

COOKIE = "arena_voter"
HEADER = "X-Arena-Voter"
COOKIE_MAX_AGE = 400 * 24 * 3600


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StartBattle(_Body):
    modality: Literal["text", "image", "3d"]
    prompt: str
    models: tuple[str, str] | None = Field(
        None, description="Named mode: both model names. Such votes never count on the main leaderboard."
    )


class FollowUp(_Body):
    prompt: str


class CastVote(_Body):
    winner: Literal["model_a", "model_b", "tie", "both_bad"]
    dimension: str = "overall"


class Profile(_Body):
    age_band: str | None = None
    gender: str | None = None
    country: str | None = None
    first_language: str | None = None
    expertise: str | None = None


async def voter_id(request: Request, response: Response) -> str:
    """The voter: X-Arena-Voter header (API clients) or the arena_voter cookie, created if absent.

    Request handlers that only touch the database briefly are `async def` on purpose:
    running them on the event loop avoids a thread hop per request, which is most
    of a vote's cost; SQLite serialises writes anyway.
    """
    arena: Arena = request.app.state.arena
    header = request.headers.get(HEADER)
    if header is not None:
        if not valid_voter_id(header):
            raise InvalidInput(f"{HEADER} must be 8-64 characters: letters, digits, '-' or '_'")
        voter = header
    else:
        voter = request.cookies.get(COOKIE)
        if not valid_voter_id(voter):
            voter = new_voter_id()
            response.set_cookie(COOKIE, voter, max_age=COOKIE_MAX_AGE, httponly=True, samesite="lax")
    arena.voters.ensure(voter, request.client.host if request.client else None)
    return voter


def battle_json(view: BattleView) -> dict:
    turns = [{side: _side_json(out) for side, out in turn.items()} for turn in view.turns]
    return {
        "id": view.id,
        "modality": view.modality,
        "mode": view.mode,
        "status": view.status,
        "error": view.error,
        "conversation": view.conversation,
        "outputs": turns[-1] if turns else {},
        "turns": turns,
        "votes": view.votes,
        "model_a": view.model_a,
        "model_b": view.model_b,
    }


def _side_json(out: SideOutput) -> dict:
    data = {"media_type": out.media_type, "latency_ms": out.latency_ms, "error": out.error}
    if out.artifact_sha256:
        data["url"] = f"/api/v1/artifacts/{out.artifact_sha256}"
        data["sha256"] = out.artifact_sha256
    else:
        data["text"] = out.text
    return data


router = APIRouter()
_DB_THREADS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="arena-db")


async def _db(arena: Arena, function, *args):
    """Run short database work: inline on SQLite, on a few threads on a server database.

    SQLite writes are serialised in-process, so a thread hop only adds cost. With
    PostgreSQL each commit waits for its WAL flush; a few threads let those waits
    overlap (group commit) instead of blocking the event loop one after another.
    """
    if arena.store.is_sqlite:
        return function(*args)
    return await asyncio.get_running_loop().run_in_executor(_DB_THREADS, function, *args)



def _arena(request: Request) -> Arena:
    return request.app.state.arena


@router.post("/battles", status_code=201, summary="Start a battle: two anonymous outputs for a prompt")
async def start_battle(body: StartBattle, request: Request, voter: str = Depends(voter_id)) -> dict:
    view = await _arena(request).battles.start(body.modality, body.prompt, voter, models=body.models)
    return battle_json(view)


@router.get("/battles/{battle_id}", summary="A battle of yours (names only after your vote)")
async def get_battle(battle_id: str, request: Request, voter: str = Depends(voter_id)) -> dict:
    return battle_json(_arena(request).battles.get(battle_id, voter))


@router.post("/battles/{battle_id}/messages", summary="A follow-up message to the same pair (text)")
async def follow_up(battle_id: str, body: FollowUp, request: Request, voter: str = Depends(voter_id)) -> dict:
    return battle_json(await _arena(request).battles.continue_(battle_id, voter, body.prompt))


@router.post("/battles/{battle_id}/votes", status_code=201, summary="Vote; the answer reveals both names")
async def vote(battle_id: str, body: CastVote, request: Request, voter: str = Depends(voter_id)) -> dict:
    arena = _arena(request)
    result = await _db(arena, arena.battles.vote, battle_id, voter, body.winner, body.dimension)
    arena.leaderboards.poke(result.modality, result.dimension)
    return {
        "battle_id": result.battle_id, "dimension": result.dimension, "winner": result.winner,
        "model_a": result.model_a, "model_b": result.model_b,
        "counted": result.valid, "reason": result.invalid_reason,
    }


@router.get("/models", summary="Models and their public metadata")
async def models(request: Request, modality: Literal["text", "image", "3d"] | None = None) -> list[dict]:
    return list_models(_arena(request).store, modality)


@router.get("/leaderboard", summary="Bradley-Terry leaderboard with 95% confidence intervals")
async def leaderboard(
    request: Request,
    modality: Literal["text", "image", "3d"] = "text",
    dimension: str = "overall",
    group: str | None = Query(None, description="category, age_band, gender, country, first_language, expertise"),
    value: str | None = Query(None, description="the group's value, e.g. FR for country"),
) -> dict:
    if (group is None) != (value is None):
        raise InvalidInput("group and value go together")
    return _arena(request).leaderboards.get(modality, dimension, (group, value) if group else None)


@router.get("/artifacts/{sha256}", summary="An image (PNG) or 3D model (GLB) by its SHA-256")
def artifact(sha256: str, request: Request) -> FileResponse:
    found = _arena(request).artifacts.find(sha256)
    if found is None:
        raise NotFound("no such artifact")
    path, media_type = found
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": "public, max-age=31536000, immutable"})


@router.get("/voter/profile", summary="Your optional profile")
def get_profile(request: Request, voter: str = Depends(voter_id)) -> dict:
    return {"voter": voter, **_arena(request).voters.profile(voter)}


@router.put("/voter/profile", summary="Save your optional profile (you consent by saving)")
def put_profile(body: Profile, request: Request, voter: str = Depends(voter_id)) -> dict:
    _arena(request).voters.save_profile(voter, **body.model_dump())
    return {"voter": voter, **_arena(request).voters.profile(voter)}


@router.delete("/voter/profile", summary="Delete your profile")
def delete_profile(request: Request, voter: str = Depends(voter_id)) -> dict:
    _arena(request).voters.delete_profile(voter)
    return {"voter": voter, "deleted": True}


def install(app: FastAPI) -> None:
    """Mount the API and its JSON error handlers on the server's app."""
    app.include_router(router, prefix="/api/v1")

    @app.exception_handler(ArenaError)
    async def _arena_error(_request, exc: ArenaError):
        return JSONResponse({"error": str(exc)}, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request, exc: RequestValidationError):
        return JSONResponse({"error": _describe(exc)}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request, exc: StarletteHTTPException):
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(_request, exc: Exception):
        log.exception("unexpected error")
        return JSONResponse({"error": "internal error; nothing was saved"}, status_code=500)


def _describe(exc: RequestValidationError) -> str:
    error = exc.errors()[0]
    if error.get("type") == "json_invalid":
        return "request body is not valid JSON"
    if tuple(error.get("loc", ())) == ("body",):
        return "request body must be a JSON object"
    where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
    message = error.get("msg", "invalid value")
    return f"{where}: {message}" if where else message
