"""Which voter-group values may be published: k-anonymity over the votes' own snapshots.

A group board (a prompt category or one coarse demographic field, as copied onto each
vote at vote time) exists only for values with at least k distinct voters behind the
board's counted votes. This is one GROUP BY per field with COUNT(DISTINCT voter): the
caller (the board job, on each refit of a main board) caches the answer, so no page view
or request ever scans the votes table for it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute

from arena.store.engine import Store
from arena.store.schema import Battle, Vote
from arena.vocabulary import Dimension, GroupField, Modality

# Where each group's value lives: the battle's prompt category or language, or the vote's demographic snapshot.
GROUP_COLUMNS: dict[GroupField, InstrumentedAttribute[Any]] = {
    GroupField.CATEGORY: Battle.category,
    GroupField.LANGUAGE: Battle.language,
    GroupField.AGE_BAND: Vote.age_band,
    GroupField.GENDER: Vote.gender,
    GroupField.COUNTRY: Vote.country,
    GroupField.FIRST_LANGUAGE: Vote.first_language,
    GroupField.EXPERTISE: Vote.expertise,
}


def publishable_values(store: Store, modality: Modality, dimension: Dimension, k: int) -> dict[GroupField, list[str]]:
    """Per group field, the values with at least `k` distinct voters among the board's counted
    (valid, anonymous) votes, sorted; blocking."""
    found: dict[GroupField, list[str]] = {}
    with store.read() as session:
        for field, column in GROUP_COLUMNS.items():
            voters = func.count(func.distinct(Vote.voter_id))
            rows = session.execute(
                select(column)
                .select_from(Vote)
                .join(Battle, Battle.id == Vote.battle_id)
                .where(
                    Battle.modality == modality,
                    Vote.dimension == dimension,
                    Vote.anonymous,
                    Vote.valid,
                    column.is_not(None),
                )
                .group_by(column)
                .having(voters >= max(k, 1))
            ).all()
            found[field] = sorted(str(value) for (value,) in rows)
    return found
