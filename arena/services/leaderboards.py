"""Leaderboards: the database aggregates votes, `ranking` fits, a cache serves.

Raw votes never enter Python: one GROUP BY per board yields counts per
(model_a, model_b, winner[, voter]); the fit costs O(models²). Boards are refitted
in a background thread when votes change, so a page view or API call never waits
for a fit once a board exists.
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timezone

import pandas as pd
from sqlalchemy import func, select

from arena.store.engine import Store
from arena.errors import InvalidInput
from arena.store.schema import DIMENSIONS, MODALITIES, Battle, Model, Vote, Voter
from arena.settings import Settings
from ranking import RankingError, rank

log = logging.getLogger("arena.leaderboards")

# Sub-boards a voter can pick: prompt category, or one field of the voter profile.
GROUP_FIELDS = {
    "category": Battle.category,
    "age_band": Voter.age_band,
    "gender": Voter.gender,
    "country": Voter.country,
    "first_language": Voter.first_language,
    "expertise": Voter.expertise,
}

BoardKey = tuple[str, str, str | None, str | None]


def vote_counts(store: Store, modality: str, dimension: str, group: tuple[str, str] | None = None,
                per_voter: bool = False) -> pd.DataFrame:
    """Counts of valid anonymous votes per (model_a, model_b, winner[, voter])."""
    columns = [Battle.model_a, Battle.model_b, Vote.winner]
    if per_voter:
        columns.append(Vote.voter_id.label("voter"))
    query = (
        select(*columns, func.count().label("count"))
        .join(Battle, Battle.id == Vote.battle_id)
        .where(Battle.modality == modality, Vote.dimension == dimension, Vote.anonymous, Vote.valid)
        .group_by(*columns)
    )
    if group is not None:
        field, value = group
        if field in ("category",):
            query = query.where(GROUP_FIELDS[field] == value)
        else:
            query = query.join(Voter, Voter.id == Vote.voter_id).where(GROUP_FIELDS[field] == value)
    with store.read() as session:
        rows = session.execute(query).all()
    names = ["model_a", "model_b", "winner"] + (["voter"] if per_voter else []) + ["count"]
    return pd.DataFrame(rows, columns=names)


class Leaderboards:
    """A cache of fitted boards, refreshed in the background when votes change."""

    def __init__(self, store: Store, settings: Settings):
        self.store = store
        self.settings = settings
        self._boards: dict[BoardKey, dict] = {}
        self._versions: dict[BoardKey, tuple] = {}
        self._lock = threading.Lock()
        self._fit_lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._dirty: set[tuple[str, str]] = set()
        self._pending: set[BoardKey] = set()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="leaderboards", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def get(self, modality: str, dimension: str = "overall", group: tuple[str, str] | None = None) -> dict:
        """The cached board, or a 'pending' answer while its first fit runs in the background.

        A request never fits: on a million votes a first fit of a new sub-board
        takes seconds, and a page view must not wait for it.
        """
        key = self._key(modality, dimension, group)
        board = self._boards.get(key)
        if board is not None:
            return board
        with self._lock:
            self._pending.add(key)
        self._wake.set()
        return {
            **_empty_board(key, self.settings), "status": "pending",
            "message": "this leaderboard is being computed; refresh in a moment",
        }

    def refresh_all(self) -> None:
        """Refit every board whose votes changed since its last fit."""
        keys = set(self._boards) | {(m, d, None, None) for m in MODALITIES for d in DIMENSIONS[m]}
        version = self._vote_version()
        for key in sorted(keys, key=str):
            if self._stop.is_set():
                return
            if self._versions.get(key) != version:
                self.refresh(key, version)

    def refresh(self, key: BoardKey, version: tuple | None = None) -> dict:
        with self._fit_lock:
            version = version or self._vote_version()
            board = self._fit(key)
            with self._lock:
                self._boards[key] = board
                self._versions[key] = version
            return board

    def poke(self, modality: str, dimension: str) -> None:
        """Votes changed on one board: refit it (and its sub-boards) soon, in the background.

        A vote never waits for a fit, and a burst of votes becomes one refit.
        """
        with self._lock:
            self._dirty.add((modality, dimension))
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.refresh_all()  # also catches votes written by other processes
                while self._wake.wait(self.settings.leaderboard_refresh_s) and not self._stop.is_set():
                    self._stop.wait(self.settings.leaderboard_debounce_s)
                    self._wake.clear()
                    self._refresh_dirty()
            except Exception:  # keep serving the last good boards
                log.exception("leaderboard refresh failed")
                self._stop.wait(self.settings.leaderboard_debounce_s)

    def _refresh_dirty(self) -> None:
        with self._lock:
            dirty, self._dirty = self._dirty, set()
            pending, self._pending = self._pending, set()
        version = self._vote_version()
        keys = {(m, d, None, None) for m, d in dirty} | {k for k in self._boards if k[:2] in dirty} | pending
        for key in sorted(keys, key=str):
            self.refresh(key, version)

    def _vote_version(self) -> tuple:
        with self.store.read() as session:
            return tuple(session.execute(select(func.count(Vote.id), func.max(Vote.id))).one())

    def _key(self, modality: str, dimension: str, group: tuple[str, str] | None) -> BoardKey:
        if modality not in MODALITIES:
            raise InvalidInput(f"modality must be one of: {', '.join(MODALITIES)}")
        if dimension not in DIMENSIONS[modality]:
            raise InvalidInput(f"dimension for {modality} must be one of: {', '.join(DIMENSIONS[modality])}")
        if group is None:
            return modality, dimension, None, None
        field, value = group
        if field not in GROUP_FIELDS:
            raise InvalidInput(f"group must be one of: {', '.join(GROUP_FIELDS)}")
        if not value or len(value) > 64:
            raise InvalidInput("group value must be 1-64 characters")
        return modality, dimension, field, value

    def _fit(self, key: BoardKey) -> dict:
        modality, dimension, field, value = key
        group = (field, value) if field else None
        per_voter = self.settings.leaderboard_ci == "cluster"
        counts = vote_counts(self.store, modality, dimension, group, per_voter)
        n_votes = int(counts["count"].sum()) if len(counts) else 0
        board = {**_empty_board(key, self.settings), "votes": n_votes}
        minimum = self.settings.min_group_votes if group else 1
        if n_votes < minimum:
            return {**board, "status": "too_few_votes",
                    "message": f"too few votes: {n_votes} (at least {minimum} needed)"}
        try:
            result = rank(counts, ci=self.settings.leaderboard_ci,
                          provisional_votes=self.settings.provisional_votes)
        except RankingError as exc:
            return {**board, "status": "too_few_votes", "message": str(exc)}
        display = self._display(modality)
        rows = [{**row, **display.get(row["model"], {})} for row in result.rows]
        return {
            **board, "status": "ok", "rows": rows,
            "win_rate_matrix": _matrix(result.win_rate_matrix),
            "battle_counts": _matrix(result.battle_counts),
        }

    def _display(self, modality: str) -> dict[str, dict]:
        with self.store.read() as session:
            models = session.scalars(select(Model).where(Model.modality == modality)).all()
        return {m.name: {"organisation": m.organisation, "license": m.license} for m in models}


def _empty_board(key: BoardKey, settings: Settings) -> dict:
    modality, dimension, field, value = key
    return {
        "modality": modality, "dimension": dimension,
        "group": {"field": field, "value": value} if field else None,
        "votes": 0, "computed_at": datetime.now(timezone.utc).isoformat(),
        "ci": settings.leaderboard_ci, "level": 0.95,
        "rows": [], "win_rate_matrix": {}, "battle_counts": {},
    }


def _matrix(frame: pd.DataFrame) -> dict:
    """{row model: {column model: value}} with NaN (never compared) left out."""
    return {
        str(row): {str(col): float(v) for col, v in values.items() if pd.notna(v)}
        for row, values in frame.to_dict(orient="index").items()
    }
