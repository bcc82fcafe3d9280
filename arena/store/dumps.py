"""The votes a dump holds, read as a stream: one SQL query in vote order, fetched in chunks.

`dump_rows` never loads the votes table: rows come from a server-side cursor
(PostgreSQL, psycopg) or SQLite's stepping cursor, `chunk` at a time, and the outputs of
each chunk's battles (text replies, artifact digests) are looked up per chunk, so memory
is bounded by the chunk, not by the number of votes. Only what a dump may publish is
selected: never the voter id's raw value beyond this module's caller (which hashes it),
never an IP hash, never dwell times.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, String, Text, func, or_, select, type_coerce

from arena.store.engine import Store
from arena.store.schema import Battle, Output, Vote
from arena.vocabulary import Dimension, Modality

_LOOKUP = 2000  # battle ids per outputs query: under every driver's parameter limit


@dataclass(frozen=True)
class DumpFilter:
    """Which votes a dump holds; None means no restriction."""

    modality: Modality | None = None
    dimension: Dimension | None = None
    since: datetime | None = None  # votes cast at or after (UTC)
    until: datetime | None = None  # votes cast before (UTC)
    valid_only: bool = False


# The order of the values in each row `dump_rows` yields. Values come as the driver hands
# them (no per-row conversion: that is the dump's cost at millions of votes): created_at
# is SQLite's text (UTC) or PostgreSQL's aware datetime; anonymous and valid are 0/1 or
# bool; conversation is JSON text (SQLite) or an already parsed list (PostgreSQL).
ROW_FIELDS = (
    "battle_id",
    "model_a",
    "model_b",
    "winner",
    "voter_id",
    "anonymous",
    "created_at",
    "modality",
    "dimension",
    "category",
    "valid",
    "invalid_reason",
    "source",
    "conversation",  # every user turn, in order: the first is the prompt
    "language",  # of a text prompt, detected (null until detection runs)
    # the voter's coarse profile as cast (the vote's snapshot): raw here, k-anonymised by the caller
    "age_band",
    "gender",
    "country",
    "first_language",
    "expertise",
)
DEMOGRAPHICS = ("age_band", "gender", "country", "first_language", "expertise")


@dataclass(frozen=True)
class TurnOutput:
    text: str | None
    artifact_sha256: str | None
    error: str | None


def _conditions(where: DumpFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if where.modality is not None:
        conditions.append(Battle.modality == where.modality.value)
    if where.dimension is not None:
        conditions.append(Vote.dimension == where.dimension.value)
    if where.since is not None:
        conditions.append(Vote.created_at >= where.since.astimezone(UTC))
    if where.until is not None:
        conditions.append(Vote.created_at < where.until.astimezone(UTC))
    if where.valid_only:
        conditions.append(Vote.valid.is_(True))
    return conditions


def _query(where: DumpFilter) -> Select:
    return (
        select(
            Vote.battle_id,
            Battle.model_a,
            Battle.model_b,
            Vote.winner,
            Vote.voter_id,
            type_coerce(Vote.anonymous, Integer),
            type_coerce(Vote.created_at, String),
            Battle.modality,
            Vote.dimension,
            Battle.category,
            type_coerce(Vote.valid, Integer),
            Vote.invalid_reason,
            Vote.source,
            type_coerce(Battle.conversation, Text),
            Battle.language,
            *(getattr(Vote, name) for name in DEMOGRAPHICS),
        )
        .join(Battle, Battle.id == Vote.battle_id)
        .where(*_conditions(where))
        .order_by(Vote.id)
    )


def demographic_voters(store: Store, where: DumpFilter) -> Iterator[tuple[tuple[str | None, ...], str]]:
    """Each distinct (demographic snapshot, voter id) among the dump's votes that carry any
    demographic, for k-anonymity; blocking. One row per voter and profile, not per vote."""
    columns = [getattr(Vote, name) for name in DEMOGRAPHICS]
    query = (
        select(*columns, Vote.voter_id)
        .distinct()
        .join(Battle, Battle.id == Vote.battle_id)
        .where(*_conditions(where), or_(*(column.is_not(None) for column in columns)))
    )
    with store.read() as session:
        for row in session.execute(query):
            yield tuple(row[: len(DEMOGRAPHICS)]), str(row[len(DEMOGRAPHICS)])


def count_rows(store: Store, where: DumpFilter) -> int:
    """How many votes `dump_rows` will yield (for the progress bar); blocking."""
    query = select(func.count(Vote.id)).join(Battle, Battle.id == Vote.battle_id).where(*_conditions(where))
    with store.read() as session:
        return int(session.execute(query).scalar_one())


def dump_rows(store: Store, where: DumpFilter, chunk: int = 20_000) -> Iterator[Sequence[Sequence[Any]]]:
    """The matching votes in id order (values in ROW_FIELDS order), `chunk` rows at a time,
    streamed; blocking.

    SQLite steps through the query as rows are fetched, so its rows are read straight from
    the driver's cursor: making a SQLAlchemy Row of each of millions of votes would cost
    more than the query itself, and the columns need no conversion. PostgreSQL streams
    from a server-side cursor (`stream_results`), through SQLAlchemy's buffered rows.
    """
    with store.engine.connect() as connection:
        if store.is_sqlite:
            result = connection.execute(_query(where))  # nothing prefetched: the cursor has every row
            cursor = result.cursor
            try:
                while rows := cursor.fetchmany(chunk):
                    yield rows
            finally:
                result.close()
            return
        streamed = connection.execution_options(stream_results=True, yield_per=chunk).execute(_query(where))
        yield from streamed.partitions(chunk)


def has_outputs(store: Store) -> bool:
    """Whether any battle has stored outputs (bulk-simulated ones have none); blocking."""
    with store.read() as session:
        return session.execute(select(Output.id).limit(1)).first() is not None


def turn_outputs(store: Store, battle_ids: Sequence[str]) -> dict[str, dict[tuple[int, str], TurnOutput]]:
    """battle id -> {(turn, side): output} for these battles (absent: no outputs stored); blocking."""
    found: dict[str, dict[tuple[int, str], TurnOutput]] = {}
    unique = list(dict.fromkeys(battle_ids))
    with store.read() as session:
        for start in range(0, len(unique), _LOOKUP):
            rows = session.execute(
                select(Output.battle_id, Output.turn, Output.side, Output.text, Output.artifact_sha256, Output.error)
                .where(Output.battle_id.in_(unique[start : start + _LOOKUP]))
                .order_by(Output.battle_id, Output.turn, Output.side)
            ).all()
            for battle_id, turn, side, text, sha256, error in rows:
                found.setdefault(battle_id, {})[int(turn), side] = TurnOutput(text, sha256, error)
    return found
