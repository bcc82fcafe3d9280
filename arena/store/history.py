"""The vote history as fraud detection reads it: one row per anonymous vote, in time order.

Columns: model_a (shown left), model_b (shown right), winner, voter (our voter id),
tstamp (seconds since the epoch, UTC), ip_hash (the voter's salted address hash, or
None), then ours: modality, dimension, counted (the vote is on the boards now),
invalid_reason and source. The first six are the votes table `ranking.fraud` reads from
any dump, so `arena audit --db` and `arena audit` on an export of this frame agree.

Which votes: anonymous ones only (named battles show the names and are never ranked),
from every source, counted or not, except those cast with the names known (identity
leak: not a blind judgement, so an honest fan would look like a rigger). Votes kept off
the boards because their voter was quarantined, banned or withdrawn stay in: detection
judges the voter's behaviour, and a quarantined voter must keep the evidence that put
them there. Too-fast votes stay in too: they were blind, and clicking without reading
is behaviour the tests should see. Imported votes stay out: their judges are another
arena's (many rows may share one placeholder judge), so quarantining them here would
judge someone else's voters; audit such a file with `arena audit FILE` before importing.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import or_, select

from arena.store.engine import Store
from arena.store.schema import Battle, Vote, Voter
from arena.vocabulary import InvalidReason, VoteSource

AUDITED_INVALID = (InvalidReason.QUARANTINED, InvalidReason.BANNED, InvalidReason.WITHDRAWN, InvalidReason.TOO_FAST)
AUDIT_COLUMNS = ["model_a", "model_b", "winner", "voter", "tstamp", "ip_hash"]
COLUMNS = [*AUDIT_COLUMNS, "modality", "dimension", "counted", "invalid_reason", "source"]

_QUERY = (
    select(
        Battle.model_a,
        Battle.model_b,
        Vote.winner,
        Vote.voter_id,
        Vote.created_at,
        Voter.ip_hash,
        Battle.modality,
        Vote.dimension,
        Vote.valid,
        Vote.invalid_reason,
        Vote.source,
    )
    .join(Battle, Battle.id == Vote.battle_id)
    .join(Voter, Voter.id == Vote.voter_id)
    .where(
        Vote.anonymous,
        Vote.source != VoteSource.IMPORT,
        or_(Vote.invalid_reason.is_(None), Vote.invalid_reason.in_(AUDITED_INVALID)),
    )
    .order_by(Vote.created_at, Vote.id)
)


def audit_votes(store: Store) -> pd.DataFrame:
    """Every vote the detector judges (see the module docstring), oldest first; blocking."""
    with store.read() as session:
        rows: list[Any] = list(session.execute(_QUERY).all())
    frame = pd.DataFrame(rows, columns=COLUMNS)
    # SQLite hands back naive datetimes (stored as UTC), PostgreSQL aware ones: both to UTC seconds.
    stamps = pd.to_datetime(frame["tstamp"], utc=True)
    frame["tstamp"] = (stamps - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
    frame["counted"] = frame["counted"].astype(bool)
    return frame
