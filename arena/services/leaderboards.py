"""Leaderboards: the database aggregates votes, `ranking` fits, a cache serves.

Raw votes never enter Python: one GROUP BY per board over the vote counts table
(arena/store/counts.py, kept equal to the votes by the vote path) reads one slice's
rows per (model_a, model_b, winner), so a refit costs O(models²) at any number of votes. Only
the voter-cluster bootstrap (ARENA_LEADERBOARD_CI=cluster) needs per-voter counts,
read from the votes table by the board job. A request never fits: it reads the
cache, or asks for a first fit and answers 'pending'. Boards learn of changes from
the store's events (votes recorded, invalidated or restored, profiles changed); each
event bumps the version of the boards it touches, and the board job
(arena/jobs/boards.py) refits whatever is stale. The cache holds the main boards and
at most MAX_CACHED_BOARDS others (least recently read first out), only for slices
that exist: a group value without k voters answers 404 and is never cached.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypeVar

import pandas as pd
from sqlalchemy import ColumnElement, Select, SQLColumnExpression, func, or_, select

from arena.errors import InvalidInput, NotFound
from arena.services.catalog import display_metadata
from arena.settings import Settings
from arena.store.counts import NONE, weight2_expression, weight_expression
from arena.store.engine import Store
from arena.store.events import Event, VoterProfileChanged, VotesInvalidated, VotesRecorded
from arena.store.groups import GROUP_COLUMNS, publishable_values
from arena.store.schema import Battle, Vote, VoteCount
from arena.vocabulary import DIMENSIONS, Dimension, GroupField, InvalidReason, Modality, Winner, one_of
from ranking import RankingError, RankOptions, rank

MAX_GROUP_VALUE = 64
MAX_CACHED_BOARDS = 256  # boards by group kept besides the main ones (least recently read go first)
# A slice's publishable group values (a COUNT DISTINCT voter over its votes) are refreshed with each refit
# of its main board while that takes under GROUPS_REFRESH_ALWAYS_S; a slower refresh, after new votes only,
# waits 1/GROUPS_REFRESH_SHARE times as long as it took: new votes can only add values, never take one
# under k. An invalidation or a profile change refreshes them at the next refit whatever it costs.
GROUPS_REFRESH_ALWAYS_S = 0.5
GROUPS_REFRESH_SHARE = 0.1
_Query = TypeVar("_Query", bound=Select)  # a select of votes, whatever its columns
_CountQuery = TypeVar("_CountQuery", bound=Select)  # a select of the counts table


class BoardKey(NamedTuple):
    modality: Modality
    dimension: Dimension
    group: GroupField | None = None
    value: str | None = None


@dataclass(frozen=True)
class BoardGroup:
    field: GroupField
    value: str


@dataclass
class Board:
    """A fitted board, or why there is none yet (status 'pending' or 'too_few_votes')."""

    modality: Modality
    dimension: Dimension
    group: BoardGroup | None
    status: str
    votes: int
    computed_at: datetime
    ci: str
    level: float
    message: str | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)
    win_rate_matrix: dict[str, dict[str, float]] = field(default_factory=dict)
    battle_counts: dict[str, dict[str, float]] = field(default_factory=dict)
    excluded: dict[str, int] = field(default_factory=dict)  # invalid reason -> anonymous votes not counted
    down_weighted: int = 0  # quarantined votes kept in the robust fit at ARENA_QUARANTINE_WEIGHT
    style: dict[str, dict[str, float]] | None = None  # style control: feature -> coef, ci_low, ci_high


def board_key(modality: str, dimension: str = "overall", group: tuple[str, str] | None = None) -> BoardKey:
    """Validate a board request. Raises InvalidInput naming the allowed values."""
    try:
        kind = Modality(modality)
    except ValueError:
        raise InvalidInput(f"modality must be one of: {one_of(Modality)}") from None
    allowed = DIMENSIONS[kind]
    if dimension not in allowed:
        raise InvalidInput(f"dimension for {kind} must be one of: {', '.join(allowed)}")
    if group is None:
        return BoardKey(kind, Dimension(dimension))
    name, value = group
    try:
        field_ = GroupField(name)
    except ValueError:
        raise InvalidInput(f"group must be one of: {one_of(GroupField)}") from None
    if not value or len(value) > MAX_GROUP_VALUE:
        raise InvalidInput(f"group value must be 1-{MAX_GROUP_VALUE} characters")
    return BoardKey(kind, Dimension(dimension), field_, value)


def main_keys() -> list[BoardKey]:
    """The boards every arena has: each modality's every dimension, all voters."""
    return [BoardKey(modality, dimension) for modality, dimensions in DIMENSIONS.items() for dimension in dimensions]


def vote_counts(
    store: Store,
    key: BoardKey,
    per_voter: bool = False,
    quarantine_weight: float = 0.0,
    inverse_propensity: bool = False,
) -> pd.DataFrame:
    """Counts of valid anonymous votes per (model_a, model_b, winner[, voter]).

    From the counts table; per voter (the voter-cluster bootstrap) from the votes table.
    With `quarantine_weight` > 0 (the robust fit) quarantined votes stay in, each worth that
    much of a vote (a `weight` column), so a wrongly flagged voter still counts a little
    and a rigger's votes barely move the board. With `inverse_propensity` each vote also
    weighs 1/(the probability its pair was drawn with), normalised to mean 1, and each row
    is given to the fit as a Kish row (`kish_rows`; its `votes` column keeps the votes).
    """
    if per_voter:
        return counts_from_votes(store, key, True, quarantine_weight, inverse_propensity)
    columns: list[SQLColumnExpression[Any]] = [VoteCount.model_a, VoteCount.model_b, VoteCount.winner]
    counted: ColumnElement[bool] = VoteCount.valid.expression
    if quarantine_weight > 0:
        counted = or_(VoteCount.valid, VoteCount.invalid_reason == InvalidReason.QUARANTINED)
        columns.append(VoteCount.valid)
    total = func.sum(VoteCount.votes)
    sums: list[SQLColumnExpression[Any]] = [total.label("count")]
    if inverse_propensity:
        sums += [func.sum(VoteCount.weight).label("inverse"), func.sum(VoteCount.weight2).label("inverse2")]
    query = (
        _board_counts(select(*columns, *sums), key)
        .where(counted)
        .group_by(*columns)
        .having(total > 0)
        .order_by(*columns)
    )
    with store.read() as session:
        rows = session.execute(query).all()
    frame = _frame(rows, per_voter=False, quarantine_weight=quarantine_weight, inverse_propensity=inverse_propensity)
    return kish_rows(frame) if inverse_propensity else frame


def kish_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of inverse-propensity weighted votes as rows the fit reads right.

    `frame` has per row `count` (votes), `inverse` (their Σ 1/p, p the probability each
    vote's pair was drawn with) and `inverse2` (Σ 1/p²), and maybe a `weight` already (the
    robust fit's quarantine weight). Each row becomes count (Σw)²/Σw² and weight Σw²/Σw
    (Kish's effective number of votes and their weight), the weights normalised so their
    mean over the votes is 1 (Chiang et al. 2024, eq. 7), times the weight already there;
    `votes` keeps the count of votes. Why: count·weight is Σw, what the fit weighs, and
    count·weight² is Σw², what the sandwich's meat and the cell bootstrap's variance need.
    A row's mean weight alone gives n·w̄² ≤ Σw²: intervals too narrow whenever a pair's
    probability changed between its votes (the active sampler's, every refit).
    """
    out = frame.drop(columns=["inverse", "inverse2"])
    if frame.empty:
        return out.assign(weight=pd.Series(dtype=float), votes=out["count"])
    mean = float(frame["inverse"].sum() / frame["count"].sum())
    out["count"] = frame["inverse"] ** 2 / frame["inverse2"]
    out["weight"] = frame["inverse2"] / frame["inverse"] / mean * (frame["weight"] if "weight" in frame else 1.0)
    out["votes"] = frame["count"]
    return out


def excluded_counts(store: Store, key: BoardKey) -> dict[str, int]:
    """Anonymous votes of this board that do not count, per invalid reason (from the counts table)."""
    total = func.sum(VoteCount.votes)
    query = _board_counts(select(VoteCount.invalid_reason, total), key).where(~VoteCount.valid)
    with store.read() as session:
        rows = session.execute(query.group_by(VoteCount.invalid_reason).having(total > 0)).all()
    return {str(reason or "unknown"): int(count) for reason, count in sorted(rows, key=lambda row: -row[1])}


def counts_from_votes(
    store: Store,
    key: BoardKey,
    per_voter: bool = False,
    quarantine_weight: float = 0.0,
    inverse_propensity: bool = False,
) -> pd.DataFrame:
    """`vote_counts` by a GROUP BY over every vote of the slice: the per-voter path, and the
    ground truth the counts table is tested and benchmarked against. Per voter, the Kish
    rows are each voter's own, so the voter-cluster bootstrap redraws voters with the
    weights of their own votes."""
    columns: list[SQLColumnExpression[Any]] = [Battle.model_a, Battle.model_b, Vote.winner]
    if per_voter:
        columns.append(Vote.voter_id.label("voter"))
    counted: ColumnElement[bool] = Vote.valid.expression
    if quarantine_weight > 0:
        counted = or_(Vote.valid, Vote.invalid_reason == InvalidReason.QUARANTINED)
        columns.append(Vote.valid.label("valid"))
    sums: list[SQLColumnExpression[Any]] = [func.count().label("count")]
    if inverse_propensity:
        sums += [func.sum(weight_expression()).label("inverse"), func.sum(weight2_expression()).label("inverse2")]
    query = _board_votes(select(*columns, *sums), key).where(counted).group_by(*columns).order_by(*columns)
    with store.read() as session:
        rows = session.execute(query).all()
    frame = _frame(
        rows, per_voter=per_voter, quarantine_weight=quarantine_weight, inverse_propensity=inverse_propensity
    )
    return kish_rows(frame) if inverse_propensity else frame


def excluded_from_votes(store: Store, key: BoardKey) -> dict[str, int]:
    """`excluded_counts` by a GROUP BY over every vote of the slice (the ground truth)."""
    query = _board_votes(select(Vote.invalid_reason, func.count()), key).where(~Vote.valid)
    with store.read() as session:
        rows = session.execute(query.group_by(Vote.invalid_reason)).all()
    return {str(reason or "unknown"): int(count) for reason, count in sorted(rows, key=lambda row: -row[1])}


def _frame(
    rows: Sequence[Any], *, per_voter: bool, quarantine_weight: float, inverse_propensity: bool = False
) -> pd.DataFrame:
    names = ["model_a", "model_b", "winner"] + (["voter"] if per_voter else [])
    names += ["valid"] if quarantine_weight > 0 else []
    frame = pd.DataFrame(rows, columns=[*names, "count", *(["inverse", "inverse2"] if inverse_propensity else [])])
    if quarantine_weight > 0:
        frame["weight"] = frame.pop("valid").map(lambda valid: 1.0 if valid else quarantine_weight).astype(float)
    return frame


def _board_counts(query: _CountQuery, key: BoardKey) -> _CountQuery:
    """Restrict a query on the counts table to the anonymous votes of one board slice (and group)."""
    return query.where(
        VoteCount.modality == key.modality,
        VoteCount.dimension == key.dimension,
        VoteCount.group_field == (NONE if key.group is None else key.group),
        VoteCount.group_value == (NONE if key.value is None else key.value),
        VoteCount.anonymous,
    )


def _board_votes(query: _Query, key: BoardKey) -> _Query:
    """Restrict a query on votes to the anonymous votes of one board slice (and group).

    A voter group reads the vote's own snapshot of the profile (votes.country, ...), never
    the voter's current profile: an edit does not move past votes, a deletion erases them.
    """
    query = query.join(Battle, Battle.id == Vote.battle_id).where(
        Battle.modality == key.modality, Vote.dimension == key.dimension, Vote.anonymous
    )
    if key.group is not None:
        query = query.where(GROUP_COLUMNS[key.group] == key.value)
    return query


def votes_fingerprint(store: Store) -> tuple[int, ...]:
    """Changes by other processes: votes, newest id, counted votes (an invalidation changes it).
    From the counts table's all-voter rows and the votes' primary key, so every replica's board
    job reads a few hundred rows each interval, not a count over every vote."""
    votes = func.coalesce(func.sum(VoteCount.votes), 0)
    valid = func.coalesce(func.sum(VoteCount.votes).filter(VoteCount.valid), 0)
    with store.read() as session:
        total, counted = session.execute(select(votes, valid).where(VoteCount.group_field == NONE)).one()
        newest = session.scalar(select(func.coalesce(func.max(Vote.id), 0)))
    return int(total), int(newest or 0), int(counted)


class Leaderboards:
    """A cache of fitted boards with a version per board slice, bumped by events."""

    def __init__(self, store: Store, settings: Settings):
        self.store = store
        self.settings = settings
        self._boards: OrderedDict[BoardKey, Board] = OrderedDict()  # group boards in order of last read
        self._fitted: dict[BoardKey, tuple[int, int]] = {}  # version each cached board was fitted at
        self._versions: dict[tuple[Modality, Dimension], int] = {}
        self._profiles = 0  # bumped when any profile changes: boards by voter group depend on it
        self._requested: set[BoardKey] = set()
        # k-anonymity: per board slice, the group values with at least k distinct voters (refreshed with main refits)
        self._groups: dict[tuple[Modality, Dimension], dict[GroupField, frozenset[str]]] = {}
        self._groups_timing: dict[tuple[Modality, Dimension], tuple[float, float]] = {}  # (finished, seconds)
        self._groups_generation = 0  # bumped by what may take a value under k: a refresh across it counts as none
        self._lock = threading.Lock()
        self.changed = threading.Event()  # set when something became stale; the board job waits on it
        store.events.subscribe(self.on_event)

    def get(self, key: BoardKey) -> Board:
        """The cached board, or a 'pending' answer while its first fit runs in the background."""
        board = self._boards.get(key)
        if board is not None:
            if key.group is not None:
                with self._lock:
                    if key in self._boards:
                        self._boards.move_to_end(key)
            return board
        with self._lock:
            self._requested.add(key)
        self.changed.set()
        return Board(
            key.modality,
            key.dimension,
            _group(key),
            "pending",
            0,
            datetime.now(UTC),
            self.settings.leaderboard_ci,
            0.95,
            "this leaderboard is being computed; refresh in a moment",
        )

    def group_values(self, modality: Modality, dimension: Dimension) -> dict[GroupField, list[str]]:
        """The publishable values per group field (k-anonymity), from the cache; blocking on a
        first call for a slice only (the board job refreshes them with refits of the main board)."""
        cached = self._groups.get((modality, dimension))
        if cached is None:
            cached = self._refresh_groups(modality, dimension)
        return {field_: sorted(values) for field_, values in cached.items()}

    def publishable(self, key: BoardKey) -> bool:
        """Whether the key's group value has at least k distinct voters (True for a main board); blocking
        on a first call for a slice only."""
        if key.group is None:
            return True
        return key.value in self.group_values(key.modality, key.dimension).get(key.group, [])

    def board(self, key: BoardKey) -> Board:
        """`get` for a request: a group value under k answers exactly as a value nobody has (404),
        and neither is cached nor requested. Blocking on a first call for a slice only."""
        if not self.publishable(key):
            raise NotFound(unknown_group_message(key))
        return self.get(key)

    def _groups_due(self, modality: Modality, dimension: Dimension) -> bool:
        with self._lock:
            timing = self._groups_timing.get((modality, dimension))
        if timing is None or timing[1] < GROUPS_REFRESH_ALWAYS_S:
            return True
        return time.monotonic() - timing[0] >= timing[1] / GROUPS_REFRESH_SHARE

    def _refresh_groups(self, modality: Modality, dimension: Dimension) -> dict[GroupField, frozenset[str]]:
        with self._lock:
            generation = self._groups_generation
        started = time.monotonic()
        found = publishable_values(self.store, modality, dimension, self.settings.k_anonymity)
        groups = {field_: frozenset(values) for field_, values in found.items()}
        with self._lock:
            self._groups[modality, dimension] = groups
            if generation == self._groups_generation:
                self._groups_timing[modality, dimension] = (time.monotonic(), time.monotonic() - started)
            for key in [key for key in self._boards if key.modality == modality and key.dimension == dimension]:
                if key.group is not None and key.value not in groups.get(key.group, frozenset()):
                    del self._boards[key]  # fell under k (a profile deleted, votes withdrawn): gone
                    self._fitted.pop(key, None)
        return groups

    def on_event(self, event: Event) -> None:
        if isinstance(event, VotesRecorded | VotesInvalidated):
            with self._lock:
                for board in event.boards:
                    self._versions[board] = self._versions.get(board, 0) + 1
                if isinstance(event, VotesInvalidated):
                    self._forget_group_timing(event.boards)
        elif isinstance(event, VoterProfileChanged):
            with self._lock:
                self._profiles += 1
                self._forget_group_timing(None)
        else:
            return
        self.changed.set()

    def invalidate_all(self) -> None:
        """Votes changed where no event reached us (another process): every board is stale."""
        with self._lock:
            for key in (*main_keys(), *self._boards):
                self._versions[key.modality, key.dimension] = self._versions.get((key.modality, key.dimension), 0) + 1
            self._forget_group_timing(None)  # the change may have been an invalidation or a profile deletion
        self.changed.set()

    def _forget_group_timing(self, slices: Iterable[tuple[Modality, Dimension]] | None) -> None:
        """(Under the lock.) These slices' group values (None: every slice's) refresh at the next refit."""
        self._groups_generation += 1
        if slices is None:
            self._groups_timing.clear()
        for board in slices or ():
            self._groups_timing.pop(board, None)

    def stale(self) -> list[BoardKey]:
        """Boards to refit: the main ones, cached ones whose version moved, and requested ones."""
        with self._lock:
            requested, self._requested = self._requested, set()
            keys = {*main_keys(), *self._boards, *requested}
            return sorted((key for key in keys if self._fitted.get(key) != self._version(key)), key=str)

    def refit(self, key: BoardKey) -> Board:
        """Fit one board now (called by the board job, never by a request)."""
        with self._lock:
            version = self._version(key)  # taken before the fit: a vote arriving during it makes it stale again
        board = self._fit(key)
        with self._lock:
            self._boards[key] = board
            self._boards.move_to_end(key)
            self._fitted[key] = version
            self._evict()
        return board

    def _evict(self) -> None:
        """Keep at most MAX_CACHED_BOARDS boards by group (under the lock): the least recently read go."""
        grouped = [key for key in self._boards if key.group is not None]
        for key in grouped[: max(0, len(grouped) - MAX_CACHED_BOARDS)]:
            del self._boards[key]
            self._fitted.pop(key, None)

    def _version(self, key: BoardKey) -> tuple[int, int]:
        by_voter = key.group is not None and key.group not in (GroupField.CATEGORY, GroupField.LANGUAGE)
        return self._versions.get((key.modality, key.dimension), 0), self._profiles if by_voter else 0

    def _fit(self, key: BoardKey) -> Board:
        if key.group is None and self._groups_due(key.modality, key.dimension):
            # k-anonymity: the slice's publishable group values, refreshed with its main board (GROUPS_REFRESH_SHARE)
            self._refresh_groups(key.modality, key.dimension)
        per_voter = self.settings.leaderboard_ci == "cluster"
        weight = self.settings.quarantine_weight
        ipw = self.settings.inverse_propensity
        counts = vote_counts(self.store, key, per_voter, weight, ipw)
        excluded = excluded_counts(self.store, key)
        down_weighted = excluded.pop(InvalidReason.QUARANTINED, 0) if weight > 0 else 0
        n_votes = int(counts["votes" if ipw else "count"].sum()) - down_weighted if len(counts) else 0
        board = Board(
            key.modality,
            key.dimension,
            _group(key),
            "ok",
            n_votes,
            datetime.now(UTC),
            self.settings.leaderboard_ci,
            0.95,
            excluded=excluded,
            down_weighted=down_weighted,
        )
        minimum = self.settings.min_group_votes if key.group else 1
        if n_votes < minimum:
            board.status, board.message = "too_few_votes", f"too few votes: {n_votes} (at least {minimum} needed)"
            return board
        try:
            result = rank(counts, rank_options(self.settings, weighted=weight > 0 or ipw))
        except RankingError as exc:
            board.status, board.message = "too_few_votes", str(exc)
            return board
        display = display_metadata(self.store, key.modality)
        board.rows = [{**row, **display.get(row["model"], {})} for row in result.records()]
        board.win_rate_matrix = _matrix(result.win_rate_matrix)
        board.battle_counts = _matrix(result.battle_counts)
        if ipw:
            _show_votes(board, counts, self.settings.provisional_votes)
        return board


def _show_votes(board: Board, counts: pd.DataFrame, provisional_votes: int) -> None:
    """An inverse-propensity fit read Kish rows, whose counts are effective numbers of votes;
    the board shows the votes themselves (`counts`' `votes` column), as an unweighted board
    would: per model its votes, win rate and provisional flag, per pair the battles and the
    observed score share (a tie or both-bad vote half a win each, as the fit counts them)."""
    votes = counts["votes"].astype(float)
    score_a = counts["winner"].map({Winner.MODEL_A.value: 1.0, Winner.MODEL_B.value: 0.0}).fillna(0.5) * votes
    sides = pd.concat(
        [
            pd.DataFrame({"model": counts["model_a"], "other": counts["model_b"], "votes": votes, "score": score_a}),
            pd.DataFrame(
                {"model": counts["model_b"], "other": counts["model_a"], "votes": votes, "score": votes - score_a}
            ),
        ]
    )
    pairs = sides.groupby(["model", "other"])[["votes", "score"]].sum()
    per_model = pairs.groupby(level="model").sum()
    names = [str(row["model"]) for row in board.rows]
    for row in board.rows:
        n, score = per_model.loc[row["model"], "votes"], per_model.loc[row["model"], "score"]
        row.update(votes=int(round(n)), win_rate=float(score / n), provisional=bool(n < provisional_votes))
    battles = pairs["votes"].unstack().reindex(index=names, columns=names).fillna(0.0)
    share = (pairs["score"] / pairs["votes"]).unstack().reindex(index=names, columns=names)
    board.battle_counts = {a: {b: float(round(battles.loc[a, b])) for b in names} for a in names}
    board.win_rate_matrix = _matrix(share)


def rank_options(settings: Settings, *, weighted: bool = False) -> RankOptions:
    """How every board of this arena is fitted (and a dump's manifest reproduces it)."""
    return RankOptions(
        ci=settings.leaderboard_ci,
        provisional_votes=settings.provisional_votes,
        weight="weight" if weighted else None,
    )


def unknown_group_message(key: BoardKey) -> str:
    """The one answer for a group value nobody has and for one with fewer than k voters."""
    return (
        f"no {key.modality}/{key.dimension} leaderboard for that {key.group}: "
        "see /api/v1/leaderboard/groups for the values that have one"
    )


def _group(key: BoardKey) -> BoardGroup | None:
    return BoardGroup(key.group, key.value) if key.group is not None and key.value is not None else None


def _matrix(frame: pd.DataFrame) -> dict[str, dict[str, float]]:
    """{row model: {column model: value}} with NaN (never compared) left out."""
    return {
        str(row): {str(col): float(v) for col, v in values.items() if pd.notna(v)}
        for row, values in frame.to_dict(orient="index").items()
    }
