"""Text boards controlled for style (LMArena's style control), fitted in the background.

Voters prefer longer answers with headers, lists and bold, whatever their quality.
The controlled board fits Bradley-Terry with those style differences as covariates
(`ranking`'s contextual fit), so a model's rating says what is left once style is
accounted for, and the style coefficients are reported beside it. The fit needs every
vote's two answers, so it runs in the board job and is cached; a request never fits.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

from arena.services.catalog import display_metadata
from arena.services.leaderboards import Board, _matrix
from arena.settings import Settings
from arena.store.answers import text_votes_with_answers
from arena.store.engine import Store
from arena.store.events import Event, VotesInvalidated, VotesRecorded
from arena.vocabulary import Dimension, Modality
from ranking import RankingError, RankOptions, rank, style_features


class StyleBoards:
    """The style-controlled text board: cached, refitted when text votes change."""

    def __init__(self, store: Store, settings: Settings, changed: threading.Event):
        self.store = store
        self.settings = settings
        self._board: Board | None = None
        self._version = 0
        self._fitted = -1
        self._requested = False
        self._lock = threading.Lock()
        self.changed = changed  # shared with the other boards: one job waits on it
        store.events.subscribe(self.on_event)

    def get(self) -> Board:
        """The cached controlled board, or 'pending' while its first fit runs."""
        if self._board is not None:
            return self._board
        with self._lock:
            self._requested = True
        self.changed.set()
        return Board(
            Modality.TEXT,
            Dimension.OVERALL,
            None,
            "pending",
            0,
            datetime.now(UTC),
            "sandwich",
            0.95,
            "this leaderboard is being computed; refresh in a moment",
        )

    def on_event(self, event: Event) -> None:
        if isinstance(event, VotesRecorded | VotesInvalidated) and (Modality.TEXT, Dimension.OVERALL) in event.boards:
            with self._lock:
                self._version += 1
            self.changed.set()

    def invalidate(self) -> None:
        """Votes changed where no event reached us (another process)."""
        with self._lock:
            self._version += 1

    def stale(self) -> bool:
        """Worth a refit: asked for at least once, and votes changed since the last fit."""
        with self._lock:
            return (self._requested or self._board is not None) and self._fitted != self._version

    def refit(self) -> Board:
        with self._lock:
            version = self._version
        board = self._fit()
        with self._lock:
            self._board, self._fitted = board, version
        return board

    def _fit(self) -> Board:
        frame = text_votes_with_answers(self.store)
        board = Board(Modality.TEXT, Dimension.OVERALL, None, "ok", len(frame), datetime.now(UTC), "sandwich", 0.95)
        if frame.empty:
            board.status, board.message = "too_few_votes", "too few votes: 0 (at least 1 needed)"
            return board
        features = [
            style_features(_assistant(a), _assistant(b))
            for a, b in zip(frame.pop("answer_a"), frame.pop("answer_b"), strict=True)
        ]
        for name in features[0]:
            frame[name] = [row[name] for row in features]
        try:
            result = rank(frame, RankOptions(style="controlled", provisional_votes=self.settings.provisional_votes))
        except RankingError as exc:
            board.status, board.message = "too_few_votes", str(exc)
            return board
        display = display_metadata(self.store, Modality.TEXT)
        board.rows = [{**row, **display.get(row["model"], {})} for row in result.records()]
        board.win_rate_matrix = _matrix(result.win_rate_matrix)
        board.battle_counts = _matrix(result.battle_counts)
        board.style = {
            name: {
                "coef": coef,
                "ci_low": (result.style_ci or {}).get(name, (coef, coef))[0],
                "ci_high": (result.style_ci or {}).get(name, (coef, coef))[1],
            }
            for name, coef in (result.style or {}).items()
        }
        return board


def _assistant(answers: Any) -> list[dict[str, str]]:
    """A side's answers as the OpenAI message list style features read."""
    texts = answers if isinstance(answers, list) else []
    return [{"role": "assistant", "content": text} for text in texts]
