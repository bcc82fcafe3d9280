"""The vote counts table: how many votes (and how much inverse-propensity weight) per board slice.

A board slice is a modality and dimension, and either all voters (`group_field` = '') or
one group value: a prompt category or language, or one field of the vote's demographic
snapshot (`group_field` = 'country', `group_value` = 'FR'). Per slice there is one row
per (model_a, model_b, winner, anonymous, valid, invalid_reason) with `votes`, `weight`
(the sum of 1 / battles.pair_probability, 1 where the probability is not known) and
`weight2` (the sum of their squares: an inverse-propensity fit's variance depends on the
spread of the weights, not only on their mean). A vote is in its main slice and in one
slice per group field it has a value for (grouping sets, not their product), so the
table grows with slices × models², never with the votes. Every board the arena serves
is a GROUP BY over one slice: the main boards, the boards by category, language or
voter group, the "not counted" line per reason and the robust fit that keeps
quarantined votes at a weight.

The table is kept exactly equal to the same GROUP BYs over the votes: the vote path
(arena/store/votes.py) adds and moves counts in the vote's own transaction, one upsert
per distinct key per batch. Key columns are NOT NULL so that the upsert's conflict
target matches (NULLs are distinct in a unique index): "none" is stored as '' (`NONE`),
which no group value can be. `check` compares the table with the GROUP BYs over the
votes; `repair` rewrites it in one transaction.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Connection,
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
    union_all,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from arena.store.engine import Store
from arena.store.groups import GROUP_COLUMNS
from arena.store.schema import Battle, Vote, VoteCount
from arena.vocabulary import GroupField

NONE = ""  # a key column's "no value": the main slice's group, a counted vote's reason
DEMOGRAPHICS = ("age_band", "gender", "country", "first_language", "expertise")


class CountKey(NamedTuple):
    """One row's key, in the table's column order."""

    modality: str
    dimension: str
    group_field: str
    group_value: str
    model_a: str
    model_b: str
    winner: str
    anonymous: bool
    valid: bool
    invalid_reason: str


KEY = CountKey._fields


def weight_of(pair_probability: float | None) -> float:
    """A vote's inverse-propensity weight: 1 / the probability its pair was drawn with (1 if unknown)."""
    return 1.0 / pair_probability if pair_probability is not None and pair_probability > 0 else 1.0


def keys_of(
    battle: Any, dimension: str, winner: str, anonymous: bool, valid: bool, reason: str | None, profile: Any
) -> list[CountKey]:
    """The rows one vote counts in: its main slice and one per group field it has a value for.

    `battle` has modality, model_a, model_b, category and language; `profile` maps (or has
    attributes for) the vote's demographic snapshot fields.
    """
    get = profile.get if isinstance(profile, dict) else lambda name: getattr(profile, name)
    rest = (battle.model_a, battle.model_b, str(winner), bool(anonymous), bool(valid), str(reason) if reason else NONE)
    keys = [CountKey(str(battle.modality), str(dimension), NONE, NONE, *rest)]
    for field in GroupField:
        if field == GroupField.CATEGORY:
            value = battle.category
        elif field == GroupField.LANGUAGE:
            value = battle.language
        else:
            value = get(field.value)
        if value is not None:
            keys.append(CountKey(str(battle.modality), str(dimension), field.value, str(value), *rest))
    return keys


class Tally:
    """Changes to the counts table gathered over one batch: key -> [votes, weight, weight2]."""

    def __init__(self) -> None:
        self.deltas: dict[CountKey, list[float]] = {}

    def add(self, keys: list[CountKey], sign: int, weight: float) -> None:
        """One vote of inverse-propensity `weight` enters (sign 1) or leaves (sign -1) these rows."""
        for key in keys:
            entry = self.deltas.setdefault(key, [0, 0.0, 0.0])
            entry[0] += sign
            entry[1] += sign * weight
            entry[2] += sign * weight * weight

    def move(self, old: list[CountKey], new: list[CountKey], weight: float) -> None:
        if old != new:
            self.add(old, -1, weight)
            self.add(new, 1, weight)


def apply(connection: Connection, tally: Tally) -> None:
    """Write a batch's changes in the caller's transaction: one upsert row per distinct key
    (keys sorted, so concurrent writers lock rows in one order), then drop rows that reached 0.
    A key whose votes left and came back within the batch is skipped (its weights net to 0)."""
    changes = sorted(
        (key, int(votes), weight, weight2) for key, (votes, weight, weight2) in tally.deltas.items() if votes
    )
    if not changes:
        return
    connection.execute(
        _UPSERT[connection.dialect.name == "postgresql"],
        [
            {**key._asdict(), "votes": votes, "weight": weight, "weight2": weight2}
            for key, votes, weight, weight2 in changes
        ],
    )
    emptied = [key._asdict() for key, votes, *_ in changes if votes < 0]
    if emptied:
        connection.execute(_DELETE_EMPTY, emptied)


def _upsert(dialect_insert: Any) -> Any:
    statement = dialect_insert(VoteCount)
    return statement.on_conflict_do_update(
        index_elements=list(KEY),
        set_={
            "votes": VoteCount.votes + statement.excluded.votes,
            "weight": VoteCount.weight + statement.excluded.weight,
            "weight2": VoteCount.weight2 + statement.excluded.weight2,
        },
    )


_UPSERT = {False: _upsert(sqlite_insert), True: _upsert(pg_insert)}  # built once: the vote path's hot statement
_DELETE_EMPTY = delete(VoteCount).where(
    *(getattr(VoteCount, name) == bindparam(name) for name in KEY), VoteCount.votes == 0
)


# -- the ground truth: a full GROUP BY over the votes ---------------------------


def weight_expression() -> ColumnElement[float]:
    """A vote's `weight_of`, in SQL over the battles table."""
    return case((Battle.pair_probability > 0, literal(1.0) / Battle.pair_probability), else_=literal(1.0))


def weight2_expression() -> ColumnElement[float]:
    """The square of a vote's `weight_of`, in SQL over the battles table."""
    p = Battle.pair_probability
    return case((p > 0, literal(1.0) / (p * p)), else_=literal(1.0))


def full_group_by() -> CompoundSelect:
    """Every key with its votes, weight and weight2, from the votes table: one GROUP BY per slice kind
    (all voters, then each group field), UNION ALL. The check's and the repair's ground truth."""
    selects = []
    slices: list[tuple[str, SQLColumnExpression[Any] | None]] = [(NONE, None)]
    slices += [(field.value, column) for field, column in GROUP_COLUMNS.items()]
    for field, column in slices:
        pair: list[SQLColumnExpression[Any]] = [Battle.modality, Vote.dimension]
        rest: list[SQLColumnExpression[Any]] = [
            Battle.model_a,
            Battle.model_b,
            Vote.winner,
            Vote.anonymous,
            Vote.valid,
            func.coalesce(Vote.invalid_reason, NONE),
        ]
        value: SQLColumnExpression[Any] = literal(NONE) if column is None else column
        columns = [*pair, literal(field), value, *rest]
        query: Select = (
            select(
                *(expression.label(name) for expression, name in zip(columns, KEY, strict=True)),
                func.count().label("votes"),
                func.sum(weight_expression()).label("weight"),
                func.sum(weight2_expression()).label("weight2"),
            )
            .select_from(Vote)
            .join(Battle, Battle.id == Vote.battle_id)
            .group_by(*pair, *([] if column is None else [column]), *rest)
        )
        if column is not None:
            query = query.where(column.is_not(None))
        selects.append(query)
    return union_all(*selects)


@dataclass(frozen=True)
class Difference:
    key: CountKey
    table: tuple[int, float, float]  # (votes, weight, weight2) in the counts table; zeros when the row is missing
    votes: tuple[int, float, float]  # the same from the votes table

    def line(self) -> str:
        fields = " ".join(f"{name}={_shown(value)}" for name, value in self.key._asdict().items())
        return (
            f"{fields}: counts table {self.table[0]} votes (weight {self.table[1]:.6g}, weight2 {self.table[2]:.6g}), "
            f"votes table {self.votes[0]} votes (weight {self.votes[1]:.6g}, weight2 {self.votes[2]:.6g})"
        )


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value) if value != NONE else "-"


def _normalised(rows: Iterable[Sequence[Any]]) -> dict[CountKey, tuple[int, float, float]]:
    found: dict[CountKey, tuple[int, float, float]] = {}
    for row in rows:
        values = list(row)
        key = CountKey._make([*values[:7], bool(values[7]), bool(values[8]), values[9]])
        votes, weight, weight2 = found.get(key, (0, 0.0, 0.0))
        found[key] = (votes + int(values[10]), weight + float(values[11] or 0.0), weight2 + float(values[12] or 0.0))
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
                select(
                    *(getattr(VoteCount, name) for name in KEY), VoteCount.votes, VoteCount.weight, VoteCount.weight2
                )
            ).all()
        )
    differences = []
    for key in sorted(set(truth) | set(table)):
        have, want = table.get(key, (0, 0.0, 0.0)), truth.get(key, (0, 0.0, 0.0))
        if have[0] != want[0] or not all(
            math.isclose(h, w, rel_tol=1e-9, abs_tol=1e-9) for h, w in zip(have[1:], want[1:], strict=True)
        ):
            differences.append(Difference(key, have, want))
    return differences


def rebuild(connection: Connection) -> None:
    """Rewrite the table from the votes in the caller's transaction. On PostgreSQL the table is
    locked first: votes committed before are in the GROUP BY, later ones wait and add their own."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("LOCK TABLE vote_counts IN EXCLUSIVE MODE"))
    connection.execute(delete(VoteCount))
    connection.execute(
        insert(VoteCount).from_select([*KEY, "votes", "weight", "weight2"], select(full_group_by().subquery()))
    )


def repair(store: Store) -> None:
    """`rebuild` in one write transaction of its own."""
    with store.write_connection() as connection:
        rebuild(connection)
