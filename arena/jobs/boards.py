"""The board job: refit stale leaderboards in a background thread.

Events mark boards stale (arena/services/leaderboards.py); this thread waits for
that, lets a burst of votes settle for `leaderboard_debounce_s`, then refits each
stale board once. Every `leaderboard_refresh_s` it also compares the votes table's
fingerprint, which catches votes written by another process (`arena simulate`
beside a running server, another replica).
"""

from __future__ import annotations

import logging
import threading

from arena.services.leaderboards import Leaderboards, votes_fingerprint
from arena.services.style_boards import StyleBoards
from arena.settings import Settings

log = logging.getLogger("arena.jobs.boards")


class BoardJob:
    def __init__(self, leaderboards: Leaderboards, settings: Settings, style: StyleBoards | None = None):
        self.leaderboards = leaderboards
        self.style = style
        self.settings = settings
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._fingerprint: tuple[int, ...] | None = None

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="board-job", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.leaderboards.changed.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def run_once(self, check_others: bool = True) -> None:
        """Refit every stale board; first, if asked, catch changes from other processes.

        The fingerprint moves with this process's votes too, so it is compared only on
        the periodic pass: events already cover this process's own changes at once.
        """
        if check_others:
            fingerprint = votes_fingerprint(self.leaderboards.store)
            if self._fingerprint is not None and fingerprint != self._fingerprint:
                self.leaderboards.invalidate_all()
                if self.style is not None:
                    self.style.invalidate()
            self._fingerprint = fingerprint
        for key in self.leaderboards.stale():
            if self._stop.is_set():
                return
            self.leaderboards.refit(key)
        if self.style is not None and self.style.stale() and not self._stop.is_set():
            self.style.refit()

    def _loop(self) -> None:
        changed = self.leaderboards.changed
        periodic = True
        while not self._stop.is_set():
            try:
                changed.clear()
                self.run_once(check_others=periodic)
                periodic = not changed.wait(self.settings.leaderboard_refresh_s)
                if not periodic:
                    self._stop.wait(self.settings.leaderboard_debounce_s)  # a burst of votes: one refit
            except Exception:  # keep serving the last good boards
                log.exception("leaderboard refresh failed")
                self._stop.wait(self.settings.leaderboard_debounce_s)
