"""Flagged voters: the list with evidence, and the operator's release and ban."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request

from arena.api.admin.deps import AdminRoute, require_admin
from arena.api.admin.schemas import FlagOut
from arena.api.deps import arena_of
from arena.vocabulary import FlagState

router = APIRouter(route_class=AdminRoute)


@router.get("/flags", summary="Flagged voters with score, reasons and evidence, highest score first")
async def flags(
    request: Request, state: FlagState | None = None, limit: int = Query(100, ge=1, le=1000)
) -> list[FlagOut]:
    return [FlagOut.of(flag) for flag in await arena_of(request).integrity.flags(state, limit)]


@router.post("/voters/{voter_id}/release", summary="Put a flagged or banned voter's votes back on the boards")
async def release(voter_id: str, request: Request, actor: str = Depends(require_admin)) -> FlagOut:
    return FlagOut.of(await arena_of(request).integrity.release(voter_id, actor))


@router.post("/voters/{voter_id}/ban", summary="Ban a voter: every vote off the boards, new ones refused")
async def ban(voter_id: str, request: Request, actor: str = Depends(require_admin)) -> FlagOut:
    return FlagOut.of(await arena_of(request).integrity.ban(voter_id, actor))
