"""The vote store's tables (SQLAlchemy 2 ORM). Alembic migrations own the schema."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from arena.vocabulary import (
    BattleMode,
    BattleStatus,
    Dimension,
    DisabledBy,
    FlagState,
    Modality,
    ModelOrigin,
    ModelStatus,
    Side,
    VoteSource,
    Winner,
    sql_in,
)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Model(Base):
    __tablename__ = "models"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    modality: Mapped[str] = mapped_column(String(8))
    backend: Mapped[str] = mapped_column(String(16))
    options: Mapped[dict] = mapped_column(JSON, default=dict)  # never secrets: key env *names* only
    organisation: Mapped[str | None] = mapped_column(String(200))
    license: Mapped[str | None] = mapped_column(String(100))
    open_weights: Mapped[bool | None] = mapped_column(Boolean)
    parameters: Mapped[str | None] = mapped_column(String(100))
    output_format: Mapped[str | None] = mapped_column(String(100))
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    status: Mapped[str] = mapped_column(String(10), default=ModelStatus.ACTIVE)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    disabled_reason: Mapped[str | None] = mapped_column(String(500))
    disabled_by: Mapped[str | None] = mapped_column(String(10))  # who disabled it: only they (or an operator) undo it
    origin: Mapped[str] = mapped_column(String(10), default=ModelOrigin.FILE, server_default=ModelOrigin.FILE.value)
    description: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(String(500))
    # consecutive failed battles and health checks: the health job disables at a threshold
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    __table_args__ = (
        CheckConstraint(sql_in("modality", Modality), name="modality"),
        CheckConstraint(sql_in("status", ModelStatus), name="status"),
        CheckConstraint(sql_in("disabled_by", DisabledBy), name="disabled_by"),
        CheckConstraint(sql_in("origin", ModelOrigin), name="origin"),
    )


class Submission(Base):
    """A model author's endpoint: how to reach it and what its author may see. The model's
    status (pending, probing, active, ...) is its row in `models`."""

    __tablename__ = "submissions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    model_name: Mapped[str] = mapped_column(ForeignKey("models.name"), unique=True)
    author: Mapped[str] = mapped_column(String(64))  # SHA-256 of the author's token, never the token
    ip_hash: Mapped[str | None] = mapped_column(String(64))
    contact: Mapped[str] = mapped_column(String(254))
    base_url: Mapped[str] = mapped_column(String(500))
    remote_model: Mapped[str] = mapped_column(String(200))
    api_key: Mapped[str | None] = mapped_column(Text)  # Fernet ciphertext: never returned, logged or dumped
    probe: Mapped[dict | None] = mapped_column(JSON)  # the latest probe's results
    probed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    errors: Mapped[list] = mapped_column(JSON, default=list)  # recent failures, for the author (key scrubbed)
    reason: Mapped[str | None] = mapped_column(String(500))  # why it waits or was rejected
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    __table_args__ = (Index("ix_submissions_author", "author"), Index("ix_submissions_ip_hash", "ip_hash"))


class Voter(Base):
    __tablename__ = "voters"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ip_hash: Mapped[str | None] = mapped_column(String(64))  # HMAC-SHA256 of the IP, never the IP
    age_band: Mapped[str | None] = mapped_column(String(16))
    gender: Mapped[str | None] = mapped_column(String(32))
    country: Mapped[str | None] = mapped_column(String(2))
    first_language: Mapped[str | None] = mapped_column(String(16))
    expertise: Mapped[str | None] = mapped_column(String(32))
    consent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    terms_accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # the page's notice


class Battle(Base):
    __tablename__ = "battles"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    modality: Mapped[str] = mapped_column(String(8))
    mode: Mapped[str] = mapped_column(String(10), default=BattleMode.ANONYMOUS)
    prompt: Mapped[str] = mapped_column(Text)
    conversation: Mapped[list] = mapped_column(JSON, default=list)  # every user turn, in order
    category: Mapped[str | None] = mapped_column(String(32))
    language: Mapped[str | None] = mapped_column(String(16))  # of a text prompt, detected
    model_a: Mapped[str] = mapped_column(ForeignKey("models.name"))
    model_b: Mapped[str] = mapped_column(ForeignKey("models.name"))
    pair_probability: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(10), default=BattleStatus.GENERATING)
    error: Mapped[str | None] = mapped_column(Text)
    voter_id: Mapped[str] = mapped_column(ForeignKey("voters.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ready_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    __table_args__ = (
        CheckConstraint(sql_in("mode", BattleMode), name="mode"),
        CheckConstraint(sql_in("status", BattleStatus), name="status"),
        CheckConstraint("model_a <> model_b", name="distinct_models"),
        Index("ix_battles_voter_id", "voter_id"),
        Index("ix_battles_modality_created_at", "modality", "created_at"),
    )


class Output(Base):
    __tablename__ = "outputs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    battle_id: Mapped[str] = mapped_column(ForeignKey("battles.id", ondelete="CASCADE"))
    turn: Mapped[int] = mapped_column(Integer, default=0)
    side: Mapped[str] = mapped_column(String(1))
    text: Mapped[str | None] = mapped_column(Text)
    artifact_sha256: Mapped[str | None] = mapped_column(String(64))
    media_type: Mapped[str | None] = mapped_column(String(64))
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (
        UniqueConstraint("battle_id", "turn", "side", name="uq_outputs_battle_turn_side"),
        CheckConstraint(sql_in("side", Side), name="side"),
    )


class Vote(Base):
    __tablename__ = "votes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    battle_id: Mapped[str] = mapped_column(ForeignKey("battles.id", ondelete="CASCADE"))
    voter_id: Mapped[str] = mapped_column(ForeignKey("voters.id"))
    dimension: Mapped[str] = mapped_column(String(16), default=Dimension.OVERALL)
    winner: Mapped[str] = mapped_column(String(8))
    anonymous: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    dwell_ms: Mapped[int | None] = mapped_column(Integer)  # outputs shown -> vote
    valid: Mapped[bool] = mapped_column(Boolean, default=True)
    invalid_reason: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(10), default=VoteSource.LIVE, server_default=VoteSource.LIVE.value)
    # the voter's coarse profile when the vote was cast (a profile edit does not rewrite history)
    age_band: Mapped[str | None] = mapped_column(String(16))
    gender: Mapped[str | None] = mapped_column(String(32))
    country: Mapped[str | None] = mapped_column(String(2))
    first_language: Mapped[str | None] = mapped_column(String(16))
    expertise: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (
        # The database, not the application, guarantees one vote per battle and dimension.
        UniqueConstraint("battle_id", "dimension", name="uq_votes_battle_dimension"),
        CheckConstraint(sql_in("winner", Winner), name="winner"),
        CheckConstraint(sql_in("source", VoteSource), name="source"),
        Index("ix_votes_voter_id", "voter_id"),
    )


class VoteCount(Base):
    """Votes per board slice and outcome, kept equal to GROUP BYs over the votes (arena/store/counts.py).

    A slice is all voters (group_field '') or one group value (category, language or a field of
    the vote's demographic snapshot). Key columns are NOT NULL ('' for none) so that the vote
    path's upsert finds its row.
    """

    __tablename__ = "vote_counts"

    modality: Mapped[str] = mapped_column(String(8), primary_key=True)
    dimension: Mapped[str] = mapped_column(String(16), primary_key=True)
    group_field: Mapped[str] = mapped_column(String(16), primary_key=True)
    group_value: Mapped[str] = mapped_column(String(64), primary_key=True)
    model_a: Mapped[str] = mapped_column(String(100), primary_key=True)
    model_b: Mapped[str] = mapped_column(String(100), primary_key=True)
    winner: Mapped[str] = mapped_column(String(8), primary_key=True)
    anonymous: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    valid: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    invalid_reason: Mapped[str] = mapped_column(String(64), primary_key=True)
    votes: Mapped[int] = mapped_column(Integer)
    weight: Mapped[float] = mapped_column(Float)  # sum of 1 / battles.pair_probability (1 where unknown)
    weight2: Mapped[float] = mapped_column(Float)  # sum of its squares: the sandwich's variance needs it


class VoterFlag(Base):
    """A voter the detector flagged (or an operator banned), with the evidence and the decision.

    `votes` is how many of the voter's votes the last flagging audit saw; `votes_affected`
    how many votes the current state keeps off the boards. Reversible: votes are marked,
    never deleted.
    """

    __tablename__ = "voter_flags"

    voter_id: Mapped[str] = mapped_column(ForeignKey("voters.id"), primary_key=True)
    score: Mapped[float] = mapped_column(Float)  # log10 of the anytime-valid e-value
    reasons: Mapped[list] = mapped_column(JSON, default=list)
    evidence: Mapped[dict] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(12))
    votes: Mapped[int] = mapped_column(Integer, default=0)
    votes_affected: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # an operator's release or ban
    decided_by: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        CheckConstraint(sql_in("state", FlagState), name="state"),
        Index("ix_voter_flags_state", "state"),
    )


class AdminLogEntry(Base):
    """One row per admin action (and per quarantine by the detector): who, what, when."""

    __tablename__ = "admin_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))  # "admin" or "detector": never a token
    action: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(200))
    details: Mapped[dict] = mapped_column(JSON, default=dict)

    __table_args__ = (Index("ix_admin_actions_at", "at"),)
