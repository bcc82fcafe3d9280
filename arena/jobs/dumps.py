"""The dump job: a rolling release of old votes every `dump_every` seconds, in a background thread.

Off unless ARENA_DUMP_EVERY is set. Each release holds the votes older than
ARENA_DUMP_OLDER_THAN_DAYS (arena/services/exports.py writes it, then its manifest,
each under a temporary name renamed when complete); the newest few releases are kept.
The first release is written one period after start, so restarts do not pile them up.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from arena.services.exports import write_release
from arena.settings import Settings
from arena.store.engine import Store

log = logging.getLogger("arena.jobs.dumps")


class DumpJob:
    def __init__(self, store: Store, settings: Settings):
        self.store = store
        self.settings = settings
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.settings.dump_every and self.settings.dump_every > 0)

    def start(self) -> None:
        if self.enabled and self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="dump-job", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
            self._thread = None

    def run_once(self) -> Path | None:
        """Write one rolling release now; None when no vote is old enough."""
        path = write_release(self.store, self.settings, self.settings.dump_older_than_days)
        if path is not None:
            log.info("vote dump written: %s", path)
        return path

    def _loop(self) -> None:
        every = max(float(self.settings.dump_every or 0), 1.0)
        while not self._stop.wait(every):
            try:
                self.run_once()
            except Exception:  # the next period tries again
                log.exception("vote dump failed")
