"""The public routes under /api/v1: battles, votes, models, leaderboards, artifacts, dumps, profile, health.

Handlers are thin: they validate the body (pydantic), call one service and wrap the
result in a named response model. Services reach the database through the store's
gateway threads, so no handler blocks the event loop.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse

from arena.api.deps import arena_of, client, throttle
from arena.api.models import (
    BattleOut,
    CastVote,
    CompareOut,
    DumpOut,
    ErrorOut,
    FollowUp,
    GroupsOut,
    HealthOut,
    LeaderboardOut,
    ModelOut,
    ProfileDeleted,
    ProfileIn,
    ProfileOut,
    StartBattle,
    VoteOut,
)
from arena.errors import InvalidInput, NotFound
from arena.services.catalog import list_models
from arena.services.exports import find_dump, list_dumps
from arena.services.group_compare import compare_groups
from arena.services.leaderboards import board_key
from arena.services.voters import Client
from arena.vocabulary import Dimension, GroupField, Modality

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": description}
    for status, description in (
        (404, "not found"),
        (409, "conflict"),
        (422, "invalid input"),
        (429, "too many requests: see Retry-After"),
        (503, "unavailable"),
    )
}
router = APIRouter(responses=ERRORS, dependencies=[Depends(throttle)])


@router.post(
    "/battles",
    status_code=201,
    summary="Start a battle: two anonymous outputs for a prompt",
    response_model_exclude_unset=True,
)  # a side carries text, or url + sha256: never both
async def start_battle(body: StartBattle, request: Request, who: Client = Depends(client)) -> BattleOut:
    view = await arena_of(request).battles.start(
        body.modality, body.prompt, who.voter_id, models=body.models, ip_hash=who.ip_hash
    )
    return BattleOut.of(view)


@router.get(
    "/battles/{battle_id}", summary="A battle of yours (names only after your vote)", response_model_exclude_unset=True
)  # a side carries text, or url + sha256: never both
async def get_battle(battle_id: str, request: Request, who: Client = Depends(client)) -> BattleOut:
    return BattleOut.of(await arena_of(request).battles.get(battle_id, who.voter_id))


@router.post(
    "/battles/{battle_id}/messages",
    summary="A follow-up message to the same pair (text)",
    response_model_exclude_unset=True,
)  # a side carries text, or url + sha256: never both
async def follow_up(battle_id: str, body: FollowUp, request: Request, who: Client = Depends(client)) -> BattleOut:
    battles = arena_of(request).battles
    return BattleOut.of(await battles.continue_(battle_id, who.voter_id, body.prompt, ip_hash=who.ip_hash))


@router.post("/battles/{battle_id}/votes", status_code=201, summary="Vote; the answer reveals both names")
async def vote(battle_id: str, body: CastVote, request: Request, who: Client = Depends(client)) -> VoteOut:
    battles = arena_of(request).battles
    return VoteOut.of(await battles.vote(battle_id, who.voter_id, body.winner, body.dimension, ip_hash=who.ip_hash))


@router.get("/models", summary="Models and their public metadata")
async def models(request: Request, modality: Modality | None = None) -> list[ModelOut]:
    store = arena_of(request).store
    return [ModelOut.of(model) for model in await store.run(list_models, store, modality)]


@router.get("/leaderboard", summary="Bradley-Terry leaderboard with 95% confidence intervals")
async def leaderboard(
    request: Request,
    modality: Modality = Modality.TEXT,
    dimension: Dimension = Dimension.OVERALL,
    group: GroupField | None = Query(None, description="a prompt category or language, or a voter-profile field"),
    value: str | None = Query(None, description="the group's value, e.g. FR for country"),
    style: Literal["none", "controlled"] = Query(
        "none", description="controlled: text ratings with answer length and markdown accounted for (style control)"
    ),
) -> LeaderboardOut:
    if (group is None) != (value is None):
        raise InvalidInput("group and value go together")
    key = board_key(modality, dimension, (group, value) if group is not None and value is not None else None)
    if style == "controlled":
        if key.modality != Modality.TEXT or key.dimension != Dimension.OVERALL or key.group is not None:
            raise InvalidInput("style control is for the overall text board, without a group")
        return LeaderboardOut.of(arena_of(request).style_boards.get())
    arena = arena_of(request)
    # k-anonymity: a value under k answers exactly as one nobody has (404), and is never cached
    return LeaderboardOut.of(await arena.store.run(arena.leaderboards.board, key))


@router.get("/leaderboard/groups", summary="The group values that have a leaderboard (k-anonymity: at least k voters)")
async def leaderboard_groups(
    request: Request, modality: Modality = Modality.TEXT, dimension: Dimension = Dimension.OVERALL
) -> GroupsOut:
    key = board_key(modality, dimension)
    arena = arena_of(request)
    groups = await arena.store.run(arena.leaderboards.group_values, key.modality, key.dimension)
    return GroupsOut(modality=key.modality, dimension=key.dimension, k=arena.settings.k_anonymity, groups=groups)


@router.get(
    "/leaderboard/compare",
    summary="Compare two values of a group: models that differ (Holm-corrected tests) and the rank correlation",
)
async def leaderboard_compare(
    request: Request,
    group: GroupField,
    a: str = Query(description="one value of the group, e.g. FR"),
    b: str = Query(description="another value, e.g. DE"),
    modality: Modality = Modality.TEXT,
    dimension: Dimension = Dimension.OVERALL,
) -> CompareOut:
    arena = arena_of(request)
    found = await arena.store.run(compare_groups, arena.leaderboards, modality, dimension, group, a, b)
    return CompareOut.of(found)


@router.get(
    "/artifacts/{sha256}",
    summary="An image (PNG) or 3D model (GLB) by its SHA-256",
    response_class=FileResponse,
    responses={200: {"description": "the file", "content": {"image/png": {}, "model/gltf-binary": {}}}},
)
async def artifact(sha256: str, request: Request) -> FileResponse:
    found = arena_of(request).artifacts.find(sha256)
    if found is None:
        raise NotFound("no such artifact")
    path, media_type = found
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": "public, max-age=31536000, immutable"})


DUMP_TYPES = {
    ".parquet": "application/vnd.apache.parquet",
    ".csv": "text/csv",
    ".jsonl": "application/x-ndjson",
    ".json": "application/json",
}


@router.get("/dumps", summary="Published vote dumps, newest first, each with its manifest")
async def dumps(request: Request) -> list[DumpOut]:
    arena = arena_of(request)
    return [DumpOut.of(info) for info in await arena.store.run(list_dumps, arena.settings)]


@router.get(
    "/dumps/{name}",
    summary="Download a vote dump (or its .manifest.json) by name",
    response_class=FileResponse,
    responses={
        200: {
            "description": "the file",
            "content": {"application/vnd.apache.parquet": {}, "text/csv": {}, "application/x-ndjson": {}},
        }
    },
)
async def dump(name: str, request: Request) -> FileResponse:
    path = find_dump(arena_of(request).settings, name)
    if path is None:
        raise NotFound("no such dump")
    media_type = DUMP_TYPES.get(path.suffix, "application/octet-stream")
    return FileResponse(path, media_type=media_type, filename=path.name)


@router.get("/voter/profile", summary="Your optional profile")
async def get_profile(request: Request, who: Client = Depends(client)) -> ProfileOut:
    return ProfileOut.of(who.voter_id, await arena_of(request).voters.profile(who.voter_id))


@router.put("/voter/profile", summary="Save your optional profile (you consent by saving)")
async def put_profile(body: ProfileIn, request: Request, who: Client = Depends(client)) -> ProfileOut:
    voters = arena_of(request).voters
    saved = await voters.save_profile(who.voter_id, ip_hash=who.ip_hash, **body.model_dump())
    return ProfileOut.of(who.voter_id, saved)


@router.delete("/voter/profile", summary="Delete your profile")
async def delete_profile(request: Request, who: Client = Depends(client)) -> ProfileDeleted:
    await arena_of(request).voters.delete_profile(who.voter_id)
    return ProfileDeleted(voter=who.voter_id, deleted=True)


@router.get("/health", summary="Liveness, and whether the database answers")
async def health(request: Request) -> HealthOut:
    store = arena_of(request).store
    try:
        await store.run(store.ping)
    except Exception:  # a health check reports, it never fails
        return HealthOut(status="degraded", database="unavailable")
    return HealthOut(status="ok", database="ok")
