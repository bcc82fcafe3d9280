"""The audit log: every admin action (and every quarantine by the detector), newest first."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request

from arena.api.admin.deps import AdminRoute
from arena.api.admin.schemas import AdminActionOut
from arena.api.deps import arena_of

router = APIRouter(route_class=AdminRoute)


@router.get("/audit-log", summary="Who did what to which voter or model, and when; newest first")
async def audit_log(
    request: Request,
    limit: int = Query(100, ge=1, le=1000),
    before: int | None = Query(None, description="page back: the last id of the previous page"),
    target: str | None = Query(None, description="only actions on this voter or model"),
) -> list[AdminActionOut]:
    records = await arena_of(request).integrity.audit_log(limit, before, target)
    return [AdminActionOut.of(record) for record in records]
