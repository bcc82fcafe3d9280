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

from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    Select,
    String,
    Text,
    cast,
    func,
    literal,
    or_,
    select,
    type_coerce,
)

from arena.store.engine import Store
from arena.store.schema import Battle, Output, Vote
from arena.vocabulary import Dimension, Modality

_LOOKUP = 2000  # battle ids per outputs query: under every driver's parameter limit
# A dump looks each vote's battle up by id, all over the battles' index: SQLite reads those
# pages through a memory map of the file (the OS page cache, shared by the workers) rather
# than by a system call and a copy per page; beyond this size, as usual.
_SQLITE_MMAP = 4 << 30


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
# bool; conversation is JSON text on both.
ROW_FIELDS = (
    "battle_id",
    "voter_id",
    "created_at",
    "conversation",  # every user turn, in order: the first is the prompt
    "anonymous",
    "valid",
    "labels",  # LABELS joined by SEPARATOR, '' for null
    "profile",  # DEMOGRAPHICS joined by SEPARATOR ('' for null; all '' when the vote has none)
)
# Short values that repeat over millions of votes travel as one text per row, split once
# per distinct text by the caller: a Python object per value is the read's main cost.
LABELS = (
    "model_a",
    "model_b",
    "winner",
    "modality",
    "dimension",
    "category",
    "source",
    "language",  # of a text prompt, detected (null until detection runs)
    "invalid_reason",
)
# the voter's coarse profile as cast (the vote's snapshot): raw here, k-anonymised by the caller
DEMOGRAPHICS = ("age_band", "gender", "country", "first_language", "expertise")
SEPARATOR = "\x1f"  # ASCII unit separator: in no model name, label or profile value


def _joined_text(columns: list[Any]) -> ColumnElement[str]:
    text: ColumnElement[str] = func.coalesce(columns[0], "")
    for column in columns[1:]:
        text = text + literal(SEPARATOR) + func.coalesce(column, "")
    return text


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
    labels = [Battle.model_a, Battle.model_b, Vote.winner, Battle.modality, Vote.dimension, Battle.category]
    labels += [Vote.source, Battle.language, Vote.invalid_reason]
    profile = [getattr(Vote, name) for name in DEMOGRAPHICS]
    return (
        select(
            Vote.battle_id,
            Vote.voter_id,
            type_coerce(Vote.created_at, String),
            cast(Battle.conversation, Text),
            type_coerce(Vote.anonymous, Integer),
            type_coerce(Vote.valid, Integer),
            _joined_text(labels),
            _joined_text(profile),
        )
        .join(Battle, Battle.id == Vote.battle_id)
        .where(*_conditions(where))
        .order_by(Vote.id)
    )


def _joined(query: Select, where: DumpFilter) -> Select:
    """`query` over votes, joined to battles only when a condition needs them: every vote
    has its battle (a foreign key), and the join is most of the cost of a full scan."""
    if where.modality is not None:
        query = query.join(Battle, Battle.id == Vote.battle_id)
    return query.where(*_conditions(where))


def demographic_voters(store: Store, where: DumpFilter) -> Iterator[tuple[tuple[str | None, ...], str]]:
    """Each distinct (demographic snapshot, voter id) among the dump's votes that carry any
    demographic, for k-anonymity; blocking. One row per voter and profile, not per vote."""
    columns = [getattr(Vote, name) for name in DEMOGRAPHICS]
    query = _joined(select(*columns, Vote.voter_id).distinct(), where).where(
        or_(*(column.is_not(None) for column in columns))
    )
    with store.read() as session:
        for row in session.execute(query):
            yield tuple(row[: len(DEMOGRAPHICS)]), str(row[len(DEMOGRAPHICS)])


def count_rows(store: Store, where: DumpFilter) -> int:
    """How many votes `dump_rows` will yield (for the progress bar); blocking."""
    with store.read() as session:
        return int(session.execute(_joined(select(func.count(Vote.id)), where)).scalar_one())


def vote_id_bounds(store: Store, where: DumpFilter) -> tuple[int, int] | None:
    """The lowest and highest id of the matching votes (None when none match); blocking."""
    with store.read() as session:
        low, high = session.execute(_joined(select(func.min(Vote.id), func.max(Vote.id)), where)).one()
    return None if low is None else (int(low), int(high))


def dump_rows(
    store: Store, where: DumpFilter, chunk: int = 20_000, ranges: Sequence[tuple[int, int]] | None = None
) -> Iterator[Sequence[Sequence[Any]]]:
    """The matching votes in id order (values in ROW_FIELDS order), `chunk` rows at a time,
    streamed; blocking. With `ranges` ([low, high) vote ids), one list of rows per range
    instead, empty where a range holds none: how the processes of a parallel dump share it.

    Rows are read straight from the driver's cursor: making a SQLAlchemy Row of each of
    millions of votes would cost more than the query itself, and the columns need no
    conversion. Without `ranges`, SQLite steps through the query as rows are fetched, and
    PostgreSQL streams from a server-side cursor (`stream_results`).
    """
    with store.engine.connect() as connection:
        if not store.is_sqlite:
            yield from _rows(connection, where, chunk, ranges, sqlite=False)
            return
        connection.exec_driver_sql(f"PRAGMA mmap_size = {_SQLITE_MMAP}")
        try:
            yield from _rows(connection, where, chunk, ranges, sqlite=True)
        finally:  # back to the pool as it came
            connection.exec_driver_sql("PRAGMA mmap_size = 0")


def _rows(
    connection: Connection, where: DumpFilter, chunk: int, ranges: Sequence[tuple[int, int]] | None, *, sqlite: bool
) -> Iterator[Sequence[Sequence[Any]]]:
    if ranges is not None:
        for low, high in ranges:
            result = connection.execute(_query(where).where(Vote.id >= low, Vote.id < high))
            try:
                rows = result.cursor.fetchall()
            finally:
                result.close()
            yield rows
        return
    if sqlite:
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
