"""The REST API's request and response bodies: the contract /api/v1/openapi.json documents.

Types come from arena.vocabulary, so a new modality, winner or dimension appears
here (and in the spec) without an edit.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator

from arena.services.battles import BattleView, SideOutput
from arena.services.exports import DumpInfo
from arena.services.group_compare import GroupComparison
from arena.services.leaderboards import Board
from arena.services.voters import Profile
from arena.store.text import unstorable
from arena.store.votes import RecordedVote
from arena.vocabulary import (
    BattleMode,
    BattleStatus,
    Dimension,
    GroupField,
    InvalidReason,
    Modality,
    ModelStatus,
    Winner,
)


class FromAttributes(BaseModel):
    """A response built from a service's dataclass of the same fields: `Out.of(record)`."""

    model_config = ConfigDict(from_attributes=True)

    @classmethod
    def of(cls, record: object) -> Self:
        return cls.model_validate(record)


class Body(BaseModel):
    """A request body: unknown fields refused, and no text the databases cannot store (422)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: object) -> object:
        for text in _texts(value):
            reason = unstorable(text)
            if reason is not None:
                raise ValueError(reason)
        return value


def _texts(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple | set | frozenset):
        return [text for item in value for text in _texts(item)]
    if isinstance(value, dict):
        return [text for pair in value.items() for text in _texts(list(pair))]
    return []


# -- requests -----------------------------------------------------------------


class StartBattle(Body):
    modality: Modality
    prompt: str
    models: tuple[str, str] | None = Field(
        None, description="Named mode: both model names. Such votes never count on the main leaderboard."
    )


class FollowUp(Body):
    prompt: str


class CastVote(Body):
    winner: Winner
    dimension: Dimension = Dimension.OVERALL


class ProfileIn(Body):
    age_band: str | None = None
    gender: str | None = None
    country: str | None = None
    first_language: str | None = None
    expertise: str | None = None


# -- responses ----------------------------------------------------------------


class ErrorOut(BaseModel):
    error: str = Field(description="what went wrong, written for the person who sent the request")


class SideOut(BaseModel):
    media_type: str | None
    latency_ms: int | None
    error: str | None
    text: str | None = None
    url: str | None = Field(default=None, description="image or 3D output: /api/v1/artifacts/{sha256}")
    sha256: str | None = None

    @classmethod
    def of(cls, out: SideOutput) -> SideOut:
        if out.artifact_sha256:
            return cls(
                media_type=out.media_type,
                latency_ms=out.latency_ms,
                error=out.error,
                url=f"/api/v1/artifacts/{out.artifact_sha256}",
                sha256=out.artifact_sha256,
            )
        return cls(media_type=out.media_type, latency_ms=out.latency_ms, error=out.error, text=out.text)


class BattleOut(BaseModel):
    id: str
    modality: Modality
    mode: BattleMode
    status: BattleStatus
    error: str | None
    conversation: list[str]
    outputs: dict[str, SideOut] = Field(description="the latest turn, by side: a and b")
    turns: list[dict[str, SideOut]]
    votes: dict[str, Winner] = Field(description="dimension -> winner")
    model_a: str | None = Field(description="revealed after the vote (or in named mode)")
    model_b: str | None

    @classmethod
    def of(cls, view: BattleView) -> BattleOut:
        turns = [{side: SideOut.of(out) for side, out in turn.items()} for turn in view.turns]
        return cls(
            id=view.id,
            modality=Modality(view.modality),
            mode=BattleMode(view.mode),
            status=BattleStatus(view.status),
            error=view.error,
            conversation=view.conversation,
            outputs=turns[-1] if turns else {},
            turns=turns,
            votes={k: Winner(v) for k, v in view.votes.items()},
            model_a=view.model_a,
            model_b=view.model_b,
        )


class VoteOut(BaseModel):
    battle_id: str
    dimension: Dimension
    winner: Winner
    model_a: str
    model_b: str
    counted: bool = Field(description="false when a vote-time rule kept it off the boards")
    reason: InvalidReason | None

    @classmethod
    def of(cls, vote: RecordedVote) -> VoteOut:
        return cls(
            battle_id=vote.battle_id,
            dimension=vote.dimension,
            winner=vote.winner,
            model_a=vote.model_a,
            model_b=vote.model_b,
            counted=vote.valid,
            reason=vote.invalid_reason,
        )


class ModelOut(FromAttributes):
    name: str
    modality: Modality
    status: ModelStatus
    organisation: str | None
    license: str | None
    open_weights: bool | None
    parameters: str | None
    output_format: str | None
    description: str | None = None
    url: str | None = None


class BoardGroupOut(BaseModel):
    field: GroupField
    value: str


class BoardRowOut(BaseModel):
    model_config = ConfigDict(extra="allow")  # the ranking library may add diagnostics

    model: str
    rating: float
    ci_low: float
    ci_high: float
    rank_ub: int
    votes: float
    win_rate: float
    provisional: bool = False
    organisation: str | None = None
    license: str | None = None


class StyleCoefficientOut(BaseModel):
    coef: float
    ci_low: float
    ci_high: float


class LeaderboardOut(BaseModel):
    modality: Modality
    dimension: Dimension
    group: BoardGroupOut | None
    status: str = Field(description="ok, pending (first fit running) or too_few_votes")
    message: str | None = None
    votes: int
    computed_at: datetime
    ci: str
    level: float
    rows: list[BoardRowOut]
    win_rate_matrix: dict[str, dict[str, float]]
    battle_counts: dict[str, dict[str, float]]
    excluded: dict[str, int] = Field(
        default_factory=dict,
        description="anonymous votes of this board that are not counted, by reason (e.g. quarantined, too_fast)",
    )
    down_weighted: int = Field(0, description="quarantined votes kept in the fit at ARENA_QUARANTINE_WEIGHT")
    style: dict[str, StyleCoefficientOut] | None = Field(
        None, description="style control only: how much each style feature sways a vote (log-odds per SD)"
    )

    @classmethod
    def of(cls, board: Board) -> LeaderboardOut:
        data: dict[str, Any] = {
            name: getattr(board, name)
            for name in (
                "modality",
                "dimension",
                "status",
                "message",
                "votes",
                "computed_at",
                "ci",
                "level",
                "rows",
                "win_rate_matrix",
                "battle_counts",
                "excluded",
                "down_weighted",
                "style",
            )
        }
        group = BoardGroupOut(field=board.group.field, value=board.group.value) if board.group else None
        return cls(**data, group=group)


class ProfileOut(BaseModel):
    voter: str
    age_band: str | None
    gender: str | None
    country: str | None
    first_language: str | None
    expertise: str | None
    consent_at: datetime | None

    @classmethod
    def of(cls, voter: str, profile: Profile) -> ProfileOut:
        return cls(voter=voter, **vars(profile))


class ProfileDeleted(BaseModel):
    voter: str
    deleted: bool


class HealthOut(BaseModel):
    status: str = Field(description="ok, or degraded when the database does not answer")
    database: str


class DumpOut(BaseModel):
    name: str = Field(description="download it from /api/v1/dumps/{name}")
    format: str = Field(description="parquet, csv or jsonl")
    rows: int = Field(description="votes in the file")
    size: int = Field(description="bytes")
    sha256: str = Field(description="SHA-256 of the file")
    created_at: datetime
    first_vote: datetime | None = Field(description="the date range of the votes in the dump")
    last_vote: datetime | None
    url: str
    manifest: dict[str, Any] = Field(
        description="schema version, filters, columns, winner labels, the `arena rank` command and the boards it gives"
    )

    @classmethod
    def of(cls, info: DumpInfo) -> DumpOut:
        return cls(
            name=info.name,
            format=info.format,
            rows=info.rows,
            size=info.size,
            sha256=info.sha256,
            created_at=datetime.fromisoformat(info.created_at),
            first_vote=datetime.fromisoformat(info.first_vote) if info.first_vote else None,
            last_vote=datetime.fromisoformat(info.last_vote) if info.last_vote else None,
            url=f"/api/v1/dumps/{info.name}",
            manifest=info.manifest,
        )


class GroupsOut(BaseModel):
    modality: Modality
    dimension: Dimension
    k: int = Field(description="k-anonymity: a value needs at least k distinct voters behind the board to be listed")
    groups: dict[GroupField, list[str]] = Field(description="per group field, the values that have a board")


class ModelDifferenceOut(BaseModel):
    model: str
    rating_a: float
    rating_b: float
    difference: float = Field(description="rating in b minus rating in a, once the two boards are aligned")
    ci_low: float
    ci_high: float
    p_value: float
    p_adjusted: float = Field(description="Holm-adjusted across the models compared")
    significant: bool = Field(description="p_adjusted below alpha")


class RankCorrelationOut(BaseModel):
    method: str = Field(description="spearman")
    value: float | None = Field(description="null when either board rates every model alike")
    ci_low: float | None = Field(description="Fisher-z interval; null with fewer than 4 models")
    ci_high: float | None
    models: int


class CompareOut(BaseModel):
    modality: Modality
    dimension: Dimension
    group: GroupField
    a: str
    b: str
    status: str = Field(description="ok, pending (a board's first fit is running) or too_few_votes")
    message: str | None = None
    votes_a: int
    votes_b: int
    level: float | None = None
    alpha: float | None = None
    correction: str | None = Field(default=None, description="holm")
    rows: list[ModelDifferenceOut] = Field(default_factory=list, description="largest absolute difference first")
    correlation: RankCorrelationOut | None = None

    @classmethod
    def of(cls, found: GroupComparison) -> CompareOut:
        out = cls(
            modality=found.modality,
            dimension=found.dimension,
            group=found.group,
            a=found.a,
            b=found.b,
            status=found.status,
            message=found.message,
            votes_a=found.votes_a,
            votes_b=found.votes_b,
        )
        result = found.result
        if result is None:
            return out
        out.level, out.alpha, out.correction = result.level, result.alpha, result.correction
        out.rows = [
            ModelDifferenceOut(
                model=row.model,
                rating_a=row.rating_a,
                rating_b=row.rating_b,
                difference=row.difference,
                ci_low=row.ci_low,
                ci_high=row.ci_high,
                p_value=row.p_value,
                p_adjusted=row.p_adjusted,
                significant=row.significant,
            )
            for row in result.rows
        ]
        value = result.correlation if math.isfinite(result.correlation) else None
        out.correlation = RankCorrelationOut(
            method=result.correlation_method,
            value=value,
            ci_low=result.correlation_low,
            ci_high=result.correlation_high,
            models=result.models,
        )
        return out
