"""The admin API under /api/v1/admin/, behind ARENA_ADMIN_TOKEN (see deps.py), split by concern:
flagged voters (flags.py), models (models.py), model submissions (submissions.py) and the
audit log (audit_log.py).

Every route depends on the token check, which runs before the body is read or any
service is called: with no token configured every route answers 404, with a missing
or wrong one 401, and nothing changes.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from arena.api.admin import audit_log, flags, models, submissions
from arena.api.admin.deps import AdminRoute, require_admin
from arena.api.models import ErrorOut

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": description}
    for status, description in (
        (401, "missing or wrong admin token"),
        (404, "not found (every admin route, when no admin token is configured)"),
        (409, "conflict"),
        (422, "invalid input"),
    )
}

router = APIRouter(
    prefix="/admin", tags=["admin"], route_class=AdminRoute, responses=ERRORS, dependencies=[Depends(require_admin)]
)
for part in (flags, models, submissions, audit_log):
    router.include_router(part.router)

__all__ = ["router"]
