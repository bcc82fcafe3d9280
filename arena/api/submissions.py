"""Model authors' routes: submit an endpoint, read its status, update it, withdraw it.

The author's token (returned once, by the POST) is sent as `Authorization: Bearer`;
an unknown submission and a token that is not its author's answer the same 404.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import Field

from arena.api.deps import arena_of, ip_hash_of, throttle
from arena.api.models import Body, FromAttributes
from arena.api.routes import ERRORS
from arena.errors import ArenaError
from arena.services.leaderboards import board_key
from arena.services.submissions import SubmissionForm, SubmissionView
from arena.vocabulary import Modality, ModelStatus

author_bearer = HTTPBearer(auto_error=False, description="the author token the submission's POST returned")
router = APIRouter(prefix="/submissions", tags=["submissions"], responses=ERRORS, dependencies=[Depends(throttle)])


class Unauthorized(ArenaError):
    status = 401


class SubmissionIn(Body):
    name: str = Field(min_length=1, max_length=100, description="public model name: letters, digits, . _ : / + -")
    modality: Modality
    base_url: str = Field(max_length=500, description="https://host/v1 of an OpenAI-compatible endpoint")
    model: str = Field(min_length=1, max_length=200, description="the model's id at that endpoint")
    api_key: str | None = Field(default=None, max_length=500, description="sent as a bearer key; never shown again")
    contact: str = Field(max_length=254, description="an e-mail address for the operators")
    organisation: str = Field(min_length=1, max_length=200)
    license: str | None = Field(default=None, max_length=100)
    open_weights: bool | None = None
    parameters: str | None = Field(default=None, max_length=100, description='e.g. "7B"')
    description: str | None = Field(default=None, max_length=2000)


class SubmissionChange(Body):
    """Fields to change; the endpoint is probed again. The name and modality stay."""

    base_url: str | None = Field(default=None, max_length=500)
    model: str | None = Field(default=None, min_length=1, max_length=200)
    api_key: str | None = Field(default=None, max_length=500, description='"" removes the key')
    contact: str | None = Field(default=None, max_length=254)
    organisation: str | None = Field(default=None, min_length=1, max_length=200)
    license: str | None = Field(default=None, max_length=100)
    open_weights: bool | None = None
    parameters: str | None = Field(default=None, max_length=100)
    description: str | None = Field(default=None, max_length=2000)


class SubmissionOut(FromAttributes):
    id: str
    name: str
    modality: Modality
    status: ModelStatus = Field(description="probing, pending (see reason), active, disabled, rejected or retired")
    reason: str | None = Field(description="why it waits, was rejected or disabled")
    base_url: str
    model: str
    has_api_key: bool = Field(description="the key itself is never returned")
    contact: str
    organisation: str | None
    license: str | None
    open_weights: bool | None
    parameters: str | None
    description: str | None
    probe: dict[str, Any] | None = Field(description="the latest probe: ok, and per test prompt latency, format, error")
    probed_at: datetime | None
    errors: list[dict[str, Any]] = Field(description="recent failures in battles and health checks")
    created_at: datetime
    updated_at: datetime
    battles: int
    failed_battles: int
    votes: int
    board: dict[str, Any] | None = Field(description="its row on the overall leaderboard once ranked (provisional)")


class SubmissionCreated(Body):
    id: str
    token: str = Field(description="the author token: shown once; send it as Authorization: Bearer")
    submission: SubmissionOut


def author_token(credentials: HTTPAuthorizationCredentials | None = Depends(author_bearer)) -> str:
    if credentials is None or not credentials.credentials:
        raise Unauthorized("the author token is required (Authorization: Bearer <token from the submission>)")
    return credentials.credentials


@router.post("", status_code=201, summary="Submit an OpenAI-compatible endpoint (probed, then an operator decides)")
async def submit(
    body: SubmissionIn,
    request: Request,
    ip_hash: str | None = Depends(ip_hash_of),
    credentials: HTTPAuthorizationCredentials | None = Depends(author_bearer),
) -> SubmissionCreated:
    arena = arena_of(request)
    await arena.voters.gate_submission(ip_hash)
    form = SubmissionForm(**body.model_dump(mode="json"))
    given = credentials.credentials if credentials is not None else None
    view, token = await arena.submissions.submit(form, given, ip_hash)
    return SubmissionCreated(id=view.id, token=token, submission=SubmissionOut.of(view))


@router.get("/{submission_id}", summary="The author's status page: probe, battles, errors, votes, rating")
async def status(submission_id: str, request: Request, token: str = Depends(author_token)) -> SubmissionOut:
    arena = arena_of(request)
    return SubmissionOut.of(with_board(arena, await arena.submissions.status(submission_id, token)))


@router.patch("/{submission_id}", summary="Change the endpoint or the model card; the endpoint is probed again")
async def change(
    submission_id: str, body: SubmissionChange, request: Request, token: str = Depends(author_token)
) -> SubmissionOut:
    changes = body.model_dump(mode="json", exclude_unset=True)
    if changes.get("api_key") == "":
        changes["api_key"] = None
    return SubmissionOut.of(await arena_of(request).submissions.update(submission_id, token, changes))


@router.delete("/{submission_id}", summary="Withdraw: out of new battles; its votes stay on the boards' history")
async def withdraw(submission_id: str, request: Request, token: str = Depends(author_token)) -> SubmissionOut:
    return SubmissionOut.of(await arena_of(request).submissions.withdraw(submission_id, token))


def with_board(arena: Any, view: SubmissionView) -> SubmissionView:
    """The view with its model's row on the cached overall board (provisional until enough votes)."""
    board = arena.leaderboards.get(board_key(view.modality))
    view.board = next((dict(row) for row in board.rows if row.get("model") == view.name), None)
    return view
