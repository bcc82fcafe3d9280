"""Submissions: list, read, probe again, approve (into battles at once) or reject with a reason."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request

from arena.api.admin.deps import AdminRoute, require_admin
from arena.api.admin.schemas import RejectSubmission
from arena.api.deps import arena_of
from arena.api.submissions import SubmissionOut, with_board
from arena.vocabulary import ModelStatus

router = APIRouter(route_class=AdminRoute)


@router.get("/submissions", summary="Submissions, oldest first; ?status=pending lists those waiting for a decision")
async def listing(request: Request, status: ModelStatus | None = Query(default=None)) -> list[SubmissionOut]:
    return [SubmissionOut.of(view) for view in await arena_of(request).submissions.listing(status)]


@router.get("/submissions/{submission_id}", summary="One submission, with its battles, errors, votes and rating")
async def one(submission_id: str, request: Request) -> SubmissionOut:
    arena = arena_of(request)
    return SubmissionOut.of(with_board(arena, await arena.submissions.get(submission_id)))


@router.post("/submissions/{submission_id}/approve", summary="Approve: the model enters battles at once")
async def approve(submission_id: str, request: Request, actor: str = Depends(require_admin)) -> SubmissionOut:
    return SubmissionOut.of(await arena_of(request).submissions.approve(submission_id, actor))


@router.post("/submissions/{submission_id}/reject", summary="Reject, with the reason its author will read")
async def reject(
    submission_id: str, body: RejectSubmission, request: Request, actor: str = Depends(require_admin)
) -> SubmissionOut:
    return SubmissionOut.of(await arena_of(request).submissions.reject(submission_id, body.reason, actor))


@router.post("/submissions/{submission_id}/probe", summary="Probe a waiting submission's endpoint again")
async def reprobe(submission_id: str, request: Request) -> SubmissionOut:
    return SubmissionOut.of(await arena_of(request).submissions.reprobe(submission_id))
