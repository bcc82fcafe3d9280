"""Models: disable (out of new battles at once, votes kept) and enable."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from arena.api.admin.deps import AdminRoute, require_admin
from arena.api.admin.schemas import DisableModel, ModelStateOut
from arena.api.deps import arena_of
from arena.services.catalog import disable_model, enable_model
from arena.vocabulary import DisabledBy

router = APIRouter(route_class=AdminRoute)


@router.post("/models/{name}/disable", summary="Take a model out of new battles (its votes stay on the boards)")
async def disable(
    name: str, body: DisableModel, request: Request, actor: str = Depends(require_admin)
) -> ModelStateOut:
    store = arena_of(request).store
    return ModelStateOut.of(await store.run_write(disable_model, store, name, body.reason, DisabledBy.OPERATOR, actor))


@router.post("/models/{name}/enable", summary="Put a disabled model back into new battles")
async def enable(name: str, request: Request, actor: str = Depends(require_admin)) -> ModelStateOut:
    store = arena_of(request).store
    return ModelStateOut.of(await store.run_write(enable_model, store, name, actor))
