"""The admin API's request and response bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from arena.api.models import Body, FromAttributes
from arena.vocabulary import DisabledBy, FlagState, Modality, ModelStatus


class DisableModel(Body):
    reason: str = Field(min_length=1, max_length=500, description="why, for the audit log and the operators")


class RejectSubmission(Body):
    reason: str = Field(min_length=1, max_length=500, description="why: the author reads it on the status page")


class FlagOut(FromAttributes):
    voter_id: str
    state: FlagState = Field(description="flagged (quarantine off), quarantined, released or banned")
    score: float = Field(description="log10 of the voter's anytime-valid e-value; flagged at log10(1/alpha)")
    reasons: list[str]
    evidence: dict[str, Any] = Field(description="per board: score, votes, tests and coordinated groups")
    votes: int = Field(description="the voter's votes the flagging audit saw")
    votes_affected: int = Field(description="votes the current state keeps off the boards")
    created_at: datetime
    updated_at: datetime
    decided_at: datetime | None
    decided_by: str | None


class ModelStateOut(FromAttributes):
    name: str
    modality: Modality
    status: ModelStatus
    disabled_reason: str | None
    disabled_by: DisabledBy | None


class AdminActionOut(FromAttributes):
    id: int
    at: datetime
    actor: str = Field(description='"admin" or "detector"')
    action: str
    target: str
    details: dict[str, Any]
