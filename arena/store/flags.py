"""Flagged voters: the SQL behind arena/services/integrity.py.

Reads take the store (they open their own session); writes take the caller's session,
so that a decision, the votes it moves and its audit-log row share one transaction
(`Store.atomic`).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from arena.store.engine import Store
from arena.store.schema import Vote, Voter, VoterFlag
from arena.vocabulary import FlagState, InvalidReason

_CHUNK = 500


@dataclass(frozen=True)
class FlagRecord:
    """A voter_flags row, detached from its session."""

    voter_id: str
    score: float
    reasons: list[str]
    evidence: dict[str, Any]
    state: FlagState
    votes: int
    votes_affected: int
    created_at: datetime
    updated_at: datetime
    decided_at: datetime | None
    decided_by: str | None

    @classmethod
    def of(cls, row: VoterFlag) -> FlagRecord:
        return cls(
            row.voter_id,
            row.score,
            list(row.reasons or []),
            dict(row.evidence or {}),
            FlagState(row.state),
            row.votes,
            row.votes_affected,
            utc(row.created_at),
            utc(row.updated_at),
            utc(row.decided_at) if row.decided_at is not None else None,
            row.decided_by,
        )


def utc(moment: datetime) -> datetime:
    """SQLite returns naive datetimes (stored as UTC); PostgreSQL aware ones."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


# -- reads (blocking; from async code through store.run) ------------------------


def list_flags(store: Store, state: FlagState | None = None, limit: int = 100) -> list[FlagRecord]:
    """Flagged voters, highest score first."""
    query = select(VoterFlag).order_by(VoterFlag.score.desc(), VoterFlag.voter_id).limit(limit)
    if state is not None:
        query = query.where(VoterFlag.state == state)
    with store.read() as session:
        return [FlagRecord.of(row) for row in session.scalars(query)]


def banned_voters(store: Store) -> frozenset[str]:
    with store.read() as session:
        return frozenset(session.scalars(select(VoterFlag.voter_id).where(VoterFlag.state == FlagState.BANNED)))


def flag_states(store: Store) -> dict[str, tuple[FlagState, datetime | None]]:
    """Every flagged voter's state and when an operator last decided."""
    with store.read() as session:
        rows = session.execute(select(VoterFlag.voter_id, VoterFlag.state, VoterFlag.decided_at)).all()
    return {voter: (FlagState(state), utc(at) if at is not None else None) for voter, state, at in rows}


# -- inside a write transaction (the caller's session) -------------------------


def lock_flags(
    session: Session, voter_ids: Collection[str] = (), states: Collection[FlagState] = ()
) -> dict[str, VoterFlag]:
    """The flag rows of these voters and of every voter in these states, locked for update
    (PostgreSQL; SQLite has one writer at a time anyway)."""
    found: dict[str, VoterFlag] = {}
    if states:
        query = select(VoterFlag).where(VoterFlag.state.in_(list(states))).with_for_update()
        found.update((row.voter_id, row) for row in session.scalars(query))
    ids = [voter for voter in voter_ids if voter not in found]
    for start in range(0, len(ids), _CHUNK):
        query = select(VoterFlag).where(VoterFlag.voter_id.in_(ids[start : start + _CHUNK])).with_for_update()
        found.update((row.voter_id, row) for row in session.scalars(query))
    return found


def voter_exists(session: Session, voter_id: str) -> bool:
    return session.get(Voter, voter_id) is not None


def invalid_counts(session: Session, voter_ids: Collection[str], reason: InvalidReason) -> dict[str, int]:
    """How many votes of each voter are off the boards for `reason`."""
    ids = list(voter_ids)
    counts: dict[str, int] = dict.fromkeys(ids, 0)
    for start in range(0, len(ids), _CHUNK):
        rows = session.execute(
            select(Vote.voter_id, func.count())
            .where(Vote.voter_id.in_(ids[start : start + _CHUNK]), Vote.invalid_reason == reason)
            .group_by(Vote.voter_id)
        ).all()
        counts.update((voter, int(n)) for voter, n in rows)
    return counts
