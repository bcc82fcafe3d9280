"""The vote path: the only code that writes, invalidates or restores vote rows.

Every vote (the API, the page, `arena simulate`, a bulk load, an import) enters
through `record_votes` with its source; the rows are written in one transaction
and, after commit, announced on the store's event bus, so boards (and fraud
scoring) hear of every change whoever caused it. Live and simulated votes are
checked against their battle one by one (owner, state, dimension, identity leak);
bulk and imported votes are historical, checked as a batch (the battles exist and
are ready, the dimension fits) and inserted together.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Connection,
    DateTime,
    Integer,
    String,
    bindparam,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.types import TypeEngine

from arena.errors import Conflict, InvalidInput, NotFound
from arena.store import counts
from arena.store.counts import DEMOGRAPHICS, Tally, keys_of, weight_of
from arena.store.engine import Store
from arena.store.events import BoardSlice, VotesInvalidated, VotesRecorded
from arena.store.schema import Battle, Output, Vote, Voter
from arena.vocabulary import (
    DIMENSIONS,
    BattleMode,
    BattleStatus,
    Dimension,
    InvalidReason,
    Modality,
    VoteSource,
    Winner,
    one_of,
)

CHECKED_SOURCES = frozenset({VoteSource.LIVE, VoteSource.SIMULATE})
_BATCH_LOOKUP = 500  # battle ids per lookup query (well under every database's parameter limit)


@dataclass(frozen=True)
class Ballot:
    """One vote to record. `cast_at` and `dwell_ms` are given only for historical votes."""

    battle_id: str
    voter_id: str
    winner: Winner
    dimension: Dimension = Dimension.OVERALL
    cast_at: datetime | None = None
    dwell_ms: int | None = None


@dataclass(frozen=True)
class RecordedVote:
    battle_id: str
    modality: Modality
    dimension: Dimension
    winner: Winner
    model_a: str
    model_b: str
    valid: bool
    invalid_reason: InvalidReason | None
    source: VoteSource


_VOTE_COLUMNS: dict[str, TypeEngine[Any]] = {
    "battle_id": String(),
    "voter_id": String(),
    "dimension": String(),
    "winner": String(),
    "anonymous": Boolean(),
    "created_at": DateTime(timezone=True),
    "dwell_ms": Integer(),
    "valid": Boolean(),
    "invalid_reason": String(),
    "source": String(),
}
# Insert a vote only if its battle is (still) ready when the row is written. On
# PostgreSQL the battle row is share-locked, so a vote and a follow-up message
# (which locks the row for update) are serialised: one of them sees the other. The
# voter's coarse profile is copied onto the vote in the same statement (a snapshot:
# editing the profile later does not rewrite history).
_INSERT_CHECKED = (
    insert(Vote)
    .from_select(
        [*_VOTE_COLUMNS, *DEMOGRAPHICS],
        select(
            *(bindparam(name, type_=type_) for name, type_ in _VOTE_COLUMNS.items()),
            *(getattr(Voter, name) for name in DEMOGRAPHICS),
        ).where(
            Voter.id == bindparam("voter_id"),
            select(Battle.id)
            .where(Battle.id == bindparam("battle_id"), Battle.status == BattleStatus.READY)
            .with_for_update(read=True)
            .exists(),
        ),
    )
    .returning(Vote.id, *(getattr(Vote, name) for name in DEMOGRAPHICS))
)

# What a checked vote needs to know about its battle, in one round trip, with
# LMArena's identity-leak rule (an answer naming either model) evaluated in SQL.
_VOTE_CONTEXT = select(
    Battle.voter_id,
    Battle.modality,
    Battle.mode,
    Battle.status,
    Battle.ready_at,
    Battle.model_a,
    Battle.model_b,
    Battle.category,
    Battle.language,
    Battle.pair_probability,
    exists()
    .where(
        Output.battle_id == Battle.id,
        or_(
            func.lower(Output.text).contains(func.lower(Battle.model_a), autoescape=False),
            func.lower(Output.text).contains(func.lower(Battle.model_b), autoescape=False),
        ),
    )
    .label("leak"),
    # the shorter answer's length, for the reading time a live vote must allow (0 for images and 3D)
    select(func.coalesce(func.min(func.length(Output.text)), 0))
    .where(Output.battle_id == Battle.id)
    .correlate(Battle)
    .scalar_subquery()
    .label("shorter"),
).where(Battle.id == bindparam("battle_id"))


@dataclass(frozen=True)
class DwellPolicy:
    """How long after both outputs are complete a live vote may come: a base, plus reading time."""

    min_ms: int
    per_char_ms: float = 0.0
    max_ms: int = 0

    def required_ms(self, shorter_chars: int) -> float:
        return min(self.min_ms + self.per_char_ms * shorter_chars, max(self.max_ms, self.min_ms))


def record_votes(
    store: Store, ballots: Sequence[Ballot], source: VoteSource, dwell: DwellPolicy | None = None
) -> list[RecordedVote]:
    """Write `ballots` and their counts (arena/store/counts.py) in one transaction, then announce
    them; all or nothing.

    Raises InvalidInput (a bad winner, dimension or battle id in a batch), NotFound (no
    such battle, or another voter's: the two answer alike), Conflict (the battle is not ready,
    or already has a vote on that dimension). On any error nothing is written. Live votes
    cast sooner than `dwell` allows are stored but do not count (reason too_fast).
    """
    if not ballots:
        return []
    tally = Tally()
    try:
        with store.write_connection() as connection:
            if source in CHECKED_SOURCES:
                recorded = [_record_checked(connection, ballot, source, dwell, tally) for ballot in ballots]
            else:
                recorded = _record_batch(connection, ballots, source, tally)
            counts.apply(connection, tally)
    except IntegrityError:
        raise Conflict("this battle already has a vote on that dimension") from None
    boards = frozenset((vote.modality, vote.dimension) for vote in recorded)
    store.announce(VotesRecorded(boards, len(recorded), source))
    return recorded


def invalidate_votes(store: Store, voter_ids: Collection[str], reason: InvalidReason) -> int:
    """Take every counted vote of these voters off the boards, keeping the rows and a reason."""
    return _set_validity(store, voter_ids, reason, valid=False)


def restore_votes(store: Store, voter_ids: Collection[str], reason: InvalidReason) -> int:
    """Undo `invalidate_votes` for this reason (other reasons, such as an identity leak, stay)."""
    return _set_validity(store, voter_ids, reason, valid=True)


def erase_demographics(store: Store, voter_id: str) -> int:
    """A deleted profile leaves no trace: its snapshot is erased from the voter's past votes too.

    Counted votes do not change (their counts move to the rows without a profile); the caller
    announces the profile change, which refits the boards by voter group.
    """
    having_profile = or_(*(getattr(Vote, name).is_not(None) for name in DEMOGRAPHICS))
    with store.write_connection() as connection:
        return len(_change(connection, (Vote.voter_id == voter_id) & having_profile, dict.fromkeys(DEMOGRAPHICS)))


def _record_checked(
    connection: Connection, ballot: Ballot, source: VoteSource, dwell: DwellPolicy | None, tally: Tally
) -> RecordedVote:
    """This is the hot path: one SELECT and one guarded INSERT."""
    _check_ballot(ballot)
    battle = connection.execute(_VOTE_CONTEXT, {"battle_id": ballot.battle_id}).one_or_none()
    if battle is None:
        raise NotFound("no such battle")
    if battle.voter_id != ballot.voter_id:
        raise NotFound("no such battle")  # another voter's battle: not even its existence is told
    modality = Modality(battle.modality)
    _check_dimension(modality, ballot.dimension)
    if battle.status != BattleStatus.READY:
        raise Conflict(
            "this battle failed and accepts no vote"
            if battle.status == BattleStatus.FAILED
            else "outputs are still being generated; vote when both are shown"
        )
    now = datetime.now(UTC)
    anonymous = battle.mode == BattleMode.ANONYMOUS
    dwell_ms = _ms_between(battle.ready_at, now)
    reason: InvalidReason | None = None
    if anonymous and battle.leak:  # LMArena's rule: an answer naming either model spoils anonymity
        reason = InvalidReason.IDENTITY_LEAK
    elif dwell is not None and dwell_ms is not None and dwell_ms < dwell.required_ms(battle.shorter):
        reason = InvalidReason.TOO_FAST
    written = connection.execute(
        _INSERT_CHECKED,
        {
            "battle_id": ballot.battle_id,
            "voter_id": ballot.voter_id,
            "dimension": ballot.dimension.value,
            "winner": ballot.winner.value,
            "anonymous": anonymous,
            "created_at": now,
            "dwell_ms": dwell_ms,
            "valid": reason is None,
            "invalid_reason": reason,
            "source": source.value,
        },
    ).first()
    if written is None:  # a follow-up message took the battle back to generating
        raise Conflict("outputs are still being generated; vote when both are shown")
    keys = keys_of(battle, ballot.dimension, ballot.winner, anonymous, reason is None, reason, written)
    tally.add(keys, 1, weight_of(battle.pair_probability))
    return RecordedVote(
        ballot.battle_id,
        modality,
        ballot.dimension,
        ballot.winner,
        battle.model_a,
        battle.model_b,
        reason is None,
        reason,
        source,
    )


def _record_batch(
    connection: Connection, ballots: Sequence[Ballot], source: VoteSource, tally: Tally
) -> list[RecordedVote]:
    """Historical votes: one lookup per few hundred battles and voters, one multi-row INSERT."""
    battles: dict[str, Any] = {}
    for chunk in _chunks(list({ballot.battle_id for ballot in ballots})):
        rows = connection.execute(select(*_BATTLE_KEY, Battle.mode, Battle.status).where(Battle.id.in_(chunk))).all()
        battles.update((row.id, row) for row in rows)
    profiles: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(list({ballot.voter_id for ballot in ballots})):
        rows = connection.execute(
            select(Voter.id, *(getattr(Voter, name) for name in DEMOGRAPHICS)).where(Voter.id.in_(chunk))
        ).all()
        profiles.update((row.id, {name: getattr(row, name) for name in DEMOGRAPHICS}) for row in rows)
    now = datetime.now(UTC)
    values: list[dict[str, Any]] = []
    recorded: list[RecordedVote] = []
    for ballot in ballots:
        _check_ballot(ballot)
        battle = battles.get(ballot.battle_id)
        if battle is None:
            raise InvalidInput(f"no such battle: {ballot.battle_id}")
        if battle.status != BattleStatus.READY:
            raise Conflict(f"battle {ballot.battle_id} is not ready and takes no vote")
        modality = Modality(battle.modality)
        _check_dimension(modality, ballot.dimension)
        profile = profiles.get(ballot.voter_id, dict.fromkeys(DEMOGRAPHICS))
        anonymous = battle.mode == BattleMode.ANONYMOUS
        tally.add(
            keys_of(battle, ballot.dimension, ballot.winner, anonymous, True, None, profile),
            1,
            weight_of(battle.pair_probability),
        )
        values.append(
            {
                "battle_id": ballot.battle_id,
                "voter_id": ballot.voter_id,
                "dimension": ballot.dimension.value,
                "winner": ballot.winner.value,
                "anonymous": anonymous,
                "created_at": ballot.cast_at or now,
                "dwell_ms": ballot.dwell_ms,
                "valid": True,
                "invalid_reason": None,
                "source": source.value,
                **profile,
            }
        )
        recorded.append(
            RecordedVote(
                ballot.battle_id,
                modality,
                ballot.dimension,
                ballot.winner,
                battle.model_a,
                battle.model_b,
                True,
                None,
                source,
            )
        )
    connection.execute(insert(Vote), values)
    return recorded


def _set_validity(store: Store, voter_ids: Collection[str], reason: InvalidReason, *, valid: bool) -> int:
    ids = list(voter_ids)
    boards: set[BoardSlice] = set()
    changed = 0
    values = {"valid": valid, "invalid_reason": None if valid else reason}
    with store.write_connection() as connection:
        for chunk in _chunks(ids):
            selected = (
                Vote.voter_id.in_(chunk) & Vote.invalid_reason.is_(None)
                if not valid
                else Vote.voter_id.in_(chunk) & (Vote.invalid_reason == reason)
            )
            moved = _change(connection, selected, values)
            boards.update((Modality(modality), Dimension(dimension)) for modality, dimension in moved)
            changed += len(moved)
    if changed:
        store.announce(VotesInvalidated(frozenset(boards), changed, restored=valid))
    return changed


# A vote's count key needs its battle's slice columns; a battle's are fixed once it is created.
_BATTLE_KEY = (
    Battle.id,
    Battle.modality,
    Battle.model_a,
    Battle.model_b,
    Battle.category,
    Battle.language,
    Battle.pair_probability,
)
_VOTE_KEY = (Vote.id, Vote.dimension, Vote.winner, Vote.anonymous, Vote.valid, Vote.invalid_reason)


def _change(connection: Connection, selected: Any, values: dict[str, Any]) -> list[tuple[str, str]]:
    """Set `values` on the votes `selected` and move their counts, in the caller's transaction.

    The votes are read and locked first (FOR UPDATE on PostgreSQL; SQLite has one writer), then
    updated by id: the counts move for exactly the rows this transaction changed, whatever
    another transaction does meanwhile. Returns (modality, dimension) per changed vote.
    """
    rows = connection.execute(
        select(*_VOTE_KEY, *(getattr(Vote, name) for name in DEMOGRAPHICS), *_BATTLE_KEY[1:])
        .join(Battle, Battle.id == Vote.battle_id)
        .where(selected)
        .order_by(Vote.id)
        .with_for_update(of=Vote)
    ).all()
    if not rows:
        return []
    tally = Tally()
    for row in rows:
        old = keys_of(row, row.dimension, row.winner, row.anonymous, row.valid, row.invalid_reason, row)
        new_profile = {name: values.get(name, getattr(row, name)) for name in DEMOGRAPHICS}
        new = keys_of(
            row,
            row.dimension,
            row.winner,
            row.anonymous,
            values.get("valid", row.valid),
            values.get("invalid_reason", row.invalid_reason),
            new_profile,
        )
        tally.move(old, new, weight_of(row.pair_probability))
    vote_ids = [row.id for row in rows]
    for start in range(0, len(vote_ids), _BATCH_LOOKUP):
        connection.execute(update(Vote).where(Vote.id.in_(vote_ids[start : start + _BATCH_LOOKUP])).values(**values))
    counts.apply(connection, tally)
    return [(row.modality, row.dimension) for row in rows]


def _check_ballot(ballot: Ballot) -> None:
    if not isinstance(ballot.winner, Winner):
        raise InvalidInput(f"winner must be one of: {one_of(Winner)}")
    if not is_battle_id(ballot.battle_id):
        raise NotFound("no such battle")


def _check_dimension(modality: Modality, dimension: Dimension) -> None:
    if dimension not in DIMENSIONS[modality]:
        allowed = ", ".join(DIMENSIONS[modality])
        raise InvalidInput(f"dimension for {modality} battles must be one of: {allowed}")


def _chunks(values: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(values), _BATCH_LOOKUP):
        yield values[start : start + _BATCH_LOOKUP]


def _ms_between(start: datetime | None, end: datetime) -> int | None:
    if start is None:
        return None
    if start.tzinfo is None:  # SQLite returns naive datetimes
        start = start.replace(tzinfo=UTC)
    return int((end - start).total_seconds() * 1000)


def is_battle_id(value: str) -> bool:
    """Battle ids are UUIDs: anything else is no battle, answered before any query."""
    try:
        uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return False
    return True
