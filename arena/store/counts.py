"""The vote counts table: how many votes (and how much inverse-propensity weight) per board slice.

One row per distinct (modality, dimension, model_a, model_b, winner, anonymous, valid,
invalid_reason, category, language and the vote's demographic snapshot), with `votes`
and `weight` (the sum of 1 / battles.pair_probability, 1 where the probability is not
known). Every board the arena serves is a GROUP BY over it: the main boards, the boards
by category, language or voter group, the "not counted" line per reason and the robust
fit that keeps quarantined votes at a weight. Its size grows with the slices, never
with the votes.

The table is kept exactly equal to a GROUP BY over the votes: the vote path
(arena/store/votes.py) adds and moves counts in the vote's own transaction, one upsert
per distinct key per batch. Key columns are NOT NULL so that the upsert's conflict
target matches (NULLs are distinct in a unique index): a missing value is stored as ''
(`NONE`), which no group value can be. `check` compares the table with the full GROUP
BY; `repair` rewrites it in one transaction.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Connection,
    Label,
    Select,
    SQLColumnExpression,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import InstrumentedAttribute

from arena.store.engine import Store
from arena.store.schema import Battle, Vote, VoteCount
from arena.vocabulary import GroupField

NONE = ""  # a key column's "no value" (no category, no reason, no profile field)
DEMOGRAPHICS = ("age_band", "gender", "country", "first_language", "expertise")


class CountKey(NamedTuple):
    """One row's key, in the table's column order."""

    modality: str
    dimension: str
    model_a: str
    model_b: str
    winner: str
    anonymous: bool
    valid: bool
    invalid_reason: str
    category: str
    language: str
    age_band: str
    gender: str
    country: str
    first_language: str
    expertise: str


KEY = CountKey._fields

# The board's group filters on the counts table (the same fields as arena.store.groups.GROUP_COLUMNS).
COUNT_GROUP_COLUMNS: dict[GroupField, InstrumentedAttribute[Any]] = {
    GroupField.CATEGORY: VoteCount.category,
    GroupField.LANGUAGE: VoteCount.language,
    GroupField.AGE_BAND: VoteCount.age_band,
    GroupField.GENDER: VoteCount.gender,
    GroupField.COUNTRY: VoteCount.country,
    GroupField.FIRST_LANGUAGE: VoteCount.first_language,
    GroupField.EXPERTISE: VoteCount.expertise,
}


def weight_of(pair_probability: float | None) -> float:
    """A vote's inverse-propensity weight: 1 / the probability its pair was drawn with (1 if unknown)."""
    return 1.0 / pair_probability if pair_probability is not None and pair_probability > 0 else 1.0


def key_of(
    battle: Any, dimension: str, winner: str, anonymous: bool, valid: bool, reason: str | None, profile: Any
) -> CountKey:
    """The key of one vote: `battle` has modality, model_a, model_b, category and language;
    `profile` maps (or has attributes for) the demographic snapshot fields."""
    get = profile.get if isinstance(profile, dict) else lambda name: getattr(profile, name)
    return CountKey(
        str(battle.modality),
        str(dimension),
        battle.model_a,
        battle.model_b,
        str(winner),
        bool(anonymous),
        bool(valid),
        str(reason) if reason else NONE,
        battle.category or NONE,
        battle.language or NONE,
        *((get(name) or NONE) for name in DEMOGRAPHICS),
    )


class Tally:
    """Changes to the counts table gathered over one batch: key -> [votes, weight]."""

    def __init__(self) -> None:
        self.deltas: dict[CountKey, list[float]] = {}

    def add(self, key: CountKey, votes: int, weight: float) -> None:
        entry = self.deltas.setdefault(key, [0, 0.0])
        entry[0] += votes
        entry[1] += weight

    def move(self, old: CountKey, new: CountKey, weight: float) -> None:
        if old != new:
            self.add(old, -1, -weight)
            self.add(new, 1, weight)


def apply(connection: Connection, tally: Tally) -> None:
    """Write a batch's changes in the caller's transaction: one upsert row per distinct key
    (keys sorted, so concurrent writers lock rows in one order), then drop rows that reached 0."""
    changes = sorted((key, int(votes), weight) for key, (votes, weight) in tally.deltas.items() if votes or weight)
    if not changes:
        return
    dialect_insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
    statement = dialect_insert(VoteCount)
    statement = statement.on_conflict_do_update(
        index_elements=list(KEY),
        set_={
            "votes": VoteCount.votes + statement.excluded.votes,
            "weight": VoteCount.weight + statement.excluded.weight,
        },
    )
    connection.execute(
        statement, [{**key._asdict(), "votes": votes, "weight": weight} for key, votes, weight in changes]
    )
    emptied = [key._asdict() for key, votes, _ in changes if votes < 0]
    if emptied:
        connection.execute(_DELETE_EMPTY, emptied)


_DELETE_EMPTY = delete(VoteCount).where(
    *(getattr(VoteCount, name) == bindparam(name) for name in KEY), VoteCount.votes == 0
)


# -- the ground truth: a full GROUP BY over the votes ---------------------------


def _weight_expression() -> ColumnElement[float]:
    return case((Battle.pair_probability > 0, literal(1.0) / Battle.pair_probability), else_=literal(1.0))


def full_group_by() -> Select:
    """Every key with its votes and weight, from the votes table (the check, the repair, the migration's rule)."""
    columns: list[SQLColumnExpression[Any]] = [
        Battle.modality,
        Vote.dimension,
        Battle.model_a,
        Battle.model_b,
        Vote.winner,
        Vote.anonymous,
        Vote.valid,
        func.coalesce(Vote.invalid_reason, NONE),
        func.coalesce(Battle.category, NONE),
        func.coalesce(Battle.language, NONE),
        *(func.coalesce(getattr(Vote, name), NONE) for name in DEMOGRAPHICS),
    ]
    labelled: list[Label[Any]] = [column.label(name) for column, name in zip(columns, KEY, strict=True)]
    return (
        select(*labelled, func.count().label("votes"), func.sum(_weight_expression()).label("weight"))
        .select_from(Vote)
        .join(Battle, Battle.id == Vote.battle_id)
        .group_by(*columns)
    )


@dataclass(frozen=True)
class Difference:
    key: CountKey
    table: tuple[int, float]  # (votes, weight) in the counts table; (0, 0.0) when the row is missing
    votes: tuple[int, float]  # the same from the votes table

    def line(self) -> str:
        fields = " ".join(f"{name}={_shown(value)}" for name, value in self.key._asdict().items())
        return (
            f"{fields}: counts table {self.table[0]} votes (weight {self.table[1]:.6g}), "
            f"votes table {self.votes[0]} votes (weight {self.votes[1]:.6g})"
        )


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value) if value != NONE else "-"


def _normalised(rows: Iterable[Sequence[Any]]) -> dict[CountKey, tuple[int, float]]:
    found: dict[CountKey, tuple[int, float]] = {}
    for row in rows:
        values = list(row)
        key = CountKey._make([*values[:5], bool(values[5]), bool(values[6]), *values[7:15]])
        votes, weight = found.get(key, (0, 0.0))
        found[key] = (votes + int(values[15]), weight + float(values[16] or 0.0))
    return found


def check(store: Store) -> list[Difference]:
    """Rows where the counts table and a full GROUP BY over the votes disagree, read in one
    snapshot (REPEATABLE READ on PostgreSQL; a read transaction is one snapshot in SQLite's WAL)."""
    engine = store.engine
    options: dict[str, Any] = {"isolation_level": "REPEATABLE READ"} if engine.dialect.name == "postgresql" else {}
    with engine.connect().execution_options(**options) as connection, connection.begin():
        truth = _normalised(connection.execute(full_group_by()).all())
        table = _normalised(
            connection.execute(
                select(*(getattr(VoteCount, name) for name in KEY), VoteCount.votes, VoteCount.weight)
            ).all()
        )
    differences = []
    for key in sorted(set(truth) | set(table)):
        have, want = table.get(key, (0, 0.0)), truth.get(key, (0, 0.0))
        if have[0] != want[0] or not math.isclose(have[1], want[1], rel_tol=1e-9, abs_tol=1e-9):
            differences.append(Difference(key, have, want))
    return differences


def rebuild(connection: Connection) -> None:
    """Rewrite the table from the votes in the caller's transaction. On PostgreSQL the table is
    locked first: votes committed before are in the GROUP BY, later ones wait and add their own."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("LOCK TABLE vote_counts IN EXCLUSIVE MODE"))
    connection.execute(delete(VoteCount))
    connection.execute(insert(VoteCount).from_select([*KEY, "votes", "weight"], full_group_by()))


def repair(store: Store) -> None:
    """`rebuild` in one write transaction of its own."""
    with store.write_connection() as connection:
        rebuild(connection)
